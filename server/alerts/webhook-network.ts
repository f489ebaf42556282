// Where webhooks may go. An admin types a webhook address, and the server POSTs to it and shows
// ICT the start of any refusal: without a limit, that is a way to reach the server's own network
// (a database admin page on loopback, a cloud metadata service on 169.254.169.254, a printer on
// the LAN) from outside it. So, as GitLab does for its webhooks, the server sends only to public
// addresses unless the trust names the internal networks it means (`webhookAllowedNetworks`,
// e.g. the helpdesk's 10.20.0.0/16). The check is made on every connection, on the address the
// name resolved to, so a name that later points inside (DNS rebinding) is refused too.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Ranges that are not the public internet, with the words a refusal uses for them. */
const INTERNAL_RANGES: readonly [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'an unspecified address'],
  ['10.0.0.0', 8, 'ipv4', 'a private network address'],
  ['100.64.0.0', 10, 'ipv4', 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'ipv4', 'a loopback address (the server itself)'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address (such as a cloud metadata service)'],
  ['172.16.0.0', 12, 'ipv4', 'a private network address'],
  ['192.0.0.0', 24, 'ipv4', 'a reserved address'],
  ['192.168.0.0', 16, 'ipv4', 'a private network address'],
  ['198.18.0.0', 15, 'ipv4', 'a reserved address'],
  ['224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['240.0.0.0', 4, 'ipv4', 'a reserved address'],
  ['::', 128, 'ipv6', 'an unspecified address'],
  ['::1', 128, 'ipv6', 'a loopback address (the server itself)'],
  ['fc00::', 7, 'ipv6', 'a private network address'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['ff00::', 8, 'ipv6', 'a multicast address'],
];

/** The trust's own networks that webhooks may reach anyway; parsed from the configuration. */
export class WebhookNetworks {
  private readonly allowed = new BlockList();

  /** `networks`: comma-separated CIDRs or single addresses; throws naming the bad entry. */
  constructor(networks: string) {
    for (const entry of networks.split(',').map((part) => part.trim())) {
      if (entry === '') {
        continue;
      }
      const [address = '', bits, extra] = entry.split('/');
      const family = isIP(address);
      const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
      if (
        family === 0 ||
        extra !== undefined ||
        (bits !== undefined && !/^\d{1,3}$/.test(bits)) ||
        prefix > (family === 6 ? 128 : 32)
      ) {
        throw new Error(
          `"${entry}" is not a network: give an address or address/prefix, like 10.20.0.0/16`,
        );
      }
      this.allowed.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
  }

  /** Why `address` may not be sent to, in words; null when it may. */
  refusal(address: string): string | null {
    const version = isIP(address);
    if (version === 0) {
      return `${address} is not an IP address.`;
    }
    // BlockList judges an IPv4 address written as IPv6 (::ffff:7f00:1) as the IPv4 address it is.
    const family = version === 6 ? 'ipv6' : 'ipv4';
    const internal = INTERNAL_RANGES.find(([network, prefix, rangeFamily]) =>
      subnet(network, prefix, rangeFamily).check(address, family),
    );
    if (internal === undefined || this.allowed.check(address, family)) {
      return null;
    }
    return (
      `${address} is ${internal[3]}. Webhooks go only to public addresses unless the server's ` +
      'webhookAllowedNetworks (HALLPASS_WEBHOOK_ALLOWED_NETWORKS) includes it.'
    );
  }

  /**
   * A `dns.lookup` for outgoing connections that fails with the refusal when any address the
   * name resolves to is internal and not allowed: the connection is never made.
   */
  readonly lookup = (
    hostname: string,
    options: object,
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) {
        callback(error, []);
        return;
      }
      const refused = addresses
        .map((found) => this.refusal(found.address))
        .find((reason) => reason !== null);
      if (refused !== undefined) {
        const blocked: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${refused}`);
        blocked.code = 'EHALLPASSBLOCKED';
        callback(blocked, []);
        return;
      }
      if ((options as { all?: boolean }).all === true) {
        callback(null, addresses);
        return;
      }
      const first = addresses[0];
      if (first === undefined) {
        const none: NodeJS.ErrnoException = new Error(`${hostname} has no address`);
        none.code = 'ENOTFOUND';
        callback(none, []);
        return;
      }
      callback(null, first.address, first.family);
    });
  };
}

const subnets = new Map<string, BlockList>();
/** One range as a BlockList, made once. */
function subnet(network: string, prefix: number, family: 'ipv4' | 'ipv6'): BlockList {
  const key = `${network}/${String(prefix)}`;
  let list = subnets.get(key);
  if (list === undefined) {
    list = new BlockList();
    list.addSubnet(network, prefix, family);
    subnets.set(key, list);
  }
  return list;
}
