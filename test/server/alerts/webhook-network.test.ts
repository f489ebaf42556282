// Where webhooks may go (server/alerts/webhook-network.ts): only public addresses unless the trust
// names its own networks. Judged on the address a connection would really use: a literal in the
// URL, or every address a name resolves to, so the receiver on loopback below never sees a
// request it was not allowed to get.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookNetworks } from '../../../server/alerts/webhook-network.ts';
import { WebhookClient } from '../../../server/alerts/webhook.ts';
import { ConfigError, loadServerConfig } from '../../../server/config.ts';
import { WebhookReceiver } from '../../helpers/alert-receivers.ts';

const REFUSED_WORDS =
  "Webhooks go only to public addresses unless the server's webhookAllowedNetworks " +
  '(HALLPASS_WEBHOOK_ALLOWED_NETWORKS) includes it.';

describe('WebhookNetworks', () => {
  it('refuses every internal range by default and allows public addresses', () => {
    const networks = new WebhookNetworks('');
    const cases: [string, string | null][] = [
      ['93.184.215.14', null],
      ['2606:2800:21f:cb07:6820:80da:af6b:8b2c', null],
      ['127.0.0.1', 'a loopback address (the server itself)'],
      ['127.255.0.9', 'a loopback address (the server itself)'],
      ['::1', 'a loopback address (the server itself)'],
      // IPv4 written as IPv6, as a URL parser writes it: still loopback.
      ['::ffff:7f00:1', 'a loopback address (the server itself)'],
      ['::ffff:10.1.2.3', 'a private network address'],
      ['10.1.2.3', 'a private network address'],
      ['172.31.255.255', 'a private network address'],
      ['192.168.0.1', 'a private network address'],
      ['fd12:3456::1', 'a private network address'],
      ['169.254.169.254', 'a link-local address (such as a cloud metadata service)'],
      ['fe80::1', 'a link-local address'],
      ['100.64.0.1', 'a carrier-grade NAT address'],
      ['0.0.0.0', 'an unspecified address'],
      ['::', 'an unspecified address'],
      ['224.0.0.1', 'a multicast address'],
      ['255.255.255.255', 'a reserved address'],
    ];
    for (const [address, reason] of cases) {
      expect(networks.refusal(address), address).toBe(
        reason === null ? null : `${address} is ${reason}. ${REFUSED_WORDS}`,
      );
    }
    expect(networks.refusal('helpdesk.example')).toBe('helpdesk.example is not an IP address.');
  });

  it("allows exactly the trust's own networks it is given", () => {
    const networks = new WebhookNetworks(' 10.20.0.0/16, 192.168.5.7 ,fd00:1::/32');
    expect(networks.refusal('10.20.9.9')).toBeNull();
    expect(networks.refusal('::ffff:10.20.0.1')).toBeNull();
    expect(networks.refusal('192.168.5.7')).toBeNull();
    expect(networks.refusal('fd00:1:ffff::1')).toBeNull();
    expect(networks.refusal('10.21.0.1')).toMatch(/^10\.21\.0\.1 is a private network address/);
    expect(networks.refusal('192.168.5.8')).toMatch(/private network address/);
    expect(networks.refusal('127.0.0.1')).toMatch(/loopback/);
  });

  it('names the entry that is not a network', () => {
    for (const bad of [
      '10.0.0.0/33',
      'helpdesk.example',
      '10.0.0.0/8/1',
      '::1/129',
      '10.0.0.0/x',
    ]) {
      expect(() => new WebhookNetworks(`10.1.0.0/16,${bad}`), bad).toThrow(
        `"${bad}" is not a network`,
      );
    }
  });

  it('a bad setting stops the server at start, naming the key', async () => {
    await expect(
      loadServerConfig({ HALLPASS_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/33' }, {}),
    ).rejects.toThrow(ConfigError);
    await expect(
      loadServerConfig({ HALLPASS_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/33' }, {}),
    ).rejects.toThrow(/webhookAllowedNetworks: "10\.0\.0\.0\/33" is not a network/);
    const config = await loadServerConfig({ HALLPASS_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/8' }, {});
    expect(config.webhookAllowedNetworks).toBe('10.0.0.0/8');
  });
});

describe('WebhookClient against a receiver on loopback', () => {
  let receiver: WebhookReceiver;
  let port: string;
  const send = (client: WebhookClient, target: string) =>
    client.send(target, 'secret', 'delivery-1', '{"test":true}', new Date());

  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
    port = new URL(receiver.url).port;
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('never connects to a refused address, written as an address or as a name', async () => {
    const client = new WebhookClient(new WebhookNetworks(''));
    try {
      expect(await send(client, `http://127.0.0.1:${port}/hook`)).toBe(
        `Not sent: 127.0.0.1 is a loopback address (the server itself). ${REFUSED_WORDS}`,
      );
      expect(await send(client, `http://[::ffff:127.0.0.1]:${port}/hook`)).toMatch(
        /^Not sent: ::ffff:7f00:1 is a loopback address/,
      );
      // Decimal and hex spellings of 127.0.0.1 are parsed to it first.
      expect(await send(client, `http://2130706433:${port}/hook`)).toMatch(
        /^Not sent: 127\.0\.0\.1 is a loopback address/,
      );
      // A name is judged on what it resolves to, at connection time.
      expect(await send(client, `http://localhost:${port}/hook`)).toMatch(
        /^Not sent: localhost resolves to (127\.0\.0\.1|::1) is a loopback address/,
      );
      expect(receiver.received).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('delivers when the trust allows the network', async () => {
    const client = new WebhookClient(new WebhookNetworks('127.0.0.0/8,::1'));
    try {
      expect(await send(client, `http://127.0.0.1:${port}/hook`)).toBeNull();
      expect(await send(client, `http://localhost:${port}/hook`)).toBeNull();
      expect(receiver.received).toHaveLength(2);
    } finally {
      await client.close();
    }
  });
});
