// What a held device may still reach: the Hallpass server (from the agent's serverUrl) and the
// policy's allowlist, names resolved to addresses at the moment of the hold (nftables holds to
// addresses). A name that does not resolve is reported, never a reason to hold nothing.
import { isIP } from 'node:net';
import type { HoldTarget } from './network-hold.ts';

/** Resolves a host name to its addresses (dns.promises.lookup with `all: true` in the service). */
export type ResolveName = (name: string) => Promise<string[]>;

/** One allowlist entry: `host`, `host:port`, `[v6]:port` or a bare address. */
export interface HoldEntry {
  host: string;
  port: number | null;
}

/** Reads an allowlist entry; null when it is not one (the policy schema refuses those first). */
export function parseHoldEntry(entry: string): HoldEntry | null {
  const text = entry.trim();
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed !== null) {
    return withPort(bracketed[1] ?? '', bracketed[2]);
  }
  if (isIP(text) === 6) {
    return { host: text, port: null };
  }
  const plain = /^([A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/.exec(text);
  return plain === null ? null : withPort(plain[1] ?? '', plain[2]);
}

function withPort(host: string, port: string | undefined): HoldEntry | null {
  if (host === '') {
    return null;
  }
  if (port === undefined) {
    return { host, port: null };
  }
  const number = Number(port);
  return number >= 1 && number <= 65535 ? { host, port: number } : null;
}

/** The server's host and port from its URL (443/80 when the URL names none). */
export function serverEntry(serverUrl: string): HoldEntry | null {
  try {
    const url = new URL(serverUrl);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return host === '' ? null : { host, port };
  } catch {
    return null;
  }
}

/** The targets of a hold, and the entries that could not be resolved (with why). */
export async function resolveHoldTargets(
  entries: HoldEntry[],
  resolve: ResolveName,
): Promise<{ targets: HoldTarget[]; problems: string[] }> {
  const targets: HoldTarget[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    let addresses: string[];
    if (isIP(entry.host) !== 0) {
      addresses = [entry.host];
    } else {
      try {
        addresses = (await resolve(entry.host)).filter((address) => isIP(address) !== 0);
      } catch (error) {
        problems.push(`${entry.host}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (addresses.length === 0) {
        problems.push(`${entry.host}: no address`);
        continue;
      }
    }
    for (const address of addresses) {
      const key = `${address} ${String(entry.port)}`;
      if (!seen.has(key)) {
        seen.add(key);
        targets.push({ address, port: entry.port });
      }
    }
  }
  return { targets, problems };
}
