// Who may read agent.json on Windows while it holds the enrolment token (issue 12): only SYSTEM
// and the Administrators group, as root alone on Linux (0600). Anyone else who can read it could
// enrol devices of their own; anyone who can write it could point the device at their server.
// Judged from the file's security descriptor in SDDL, which names principals by SID and so reads
// the same in every Windows language, where Get-Acl's Access list is translated.
import type { Host } from '../../host.ts';
import { parseJsonOutput, powershellArgs } from '../../powershell.ts';
import { AgentConfigError } from '../agent-config.ts';

/** SYSTEM and BUILTIN\Administrators, by SDDL alias and by SID. */
const TRUSTED = new Set(['SY', 'S-1-5-18', 'BA', 'S-1-5-32-544']);

/**
 * Access masks of the SDDL right codes for files (Microsoft, "Access rights and access masks"
 * and the SDDL "ACE strings" page). A code not listed here is not understood and refused.
 */
const RIGHTS: Record<string, number> = {
  GA: 0x1000_0000,
  GR: 0x8000_0000,
  GW: 0x4000_0000,
  GX: 0x2000_0000,
  RC: 0x2_0000,
  SD: 0x1_0000,
  WD: 0x4_0000,
  WO: 0x8_0000,
  RP: 0x10,
  WP: 0x20,
  CC: 0x1,
  DC: 0x2,
  LC: 0x4,
  SW: 0x8,
  LO: 0x80,
  DT: 0x40,
  CR: 0x100,
  FA: 0x1f_01ff,
  FR: 0x12_0089,
  FW: 0x12_0116,
  FX: 0x12_00a0,
};

/**
 * What another principal may hold without reaching the file's content or its security:
 * SYNCHRONIZE, READ_CONTROL (reading the ACL itself) and FILE_READ_ATTRIBUTES (timestamps).
 */
const HARMLESS = 0x10_0000 | 0x2_0000 | 0x80;

/** One access control entry as SDDL writes it. */
export interface SddlAce {
  type: string;
  flags: string;
  mask: number;
  sid: string;
}

/** A security descriptor's owner and DACL (null: no DACL, which grants everyone everything). */
export interface SddlDescriptor {
  owner: string | null;
  dacl: SddlAce[] | null;
}

/** Reads the access mask of an ACE: hex, decimal or a run of two-letter codes; null if unknown. */
export function parseRights(text: string): number | null {
  if (/^0x[0-9a-f]+$/i.test(text)) {
    return Number.parseInt(text.slice(2), 16);
  }
  if (/^\d+$/.test(text)) {
    return Number(text);
  }
  if (text === '' || text.length % 2 !== 0) {
    return null;
  }
  let mask = 0;
  for (let i = 0; i < text.length; i += 2) {
    const right = RIGHTS[text.slice(i, i + 2)];
    if (right === undefined) {
      return null;
    }
    mask = (mask | right) >>> 0;
  }
  return mask;
}

const SID = '(?:S-1-[0-9-]+|[A-Z]{2})';

/**
 * Parses the owner and DACL of an SDDL string; throws with the reason on anything it does not
 * read whole (a conditional ACE, text after the entries), so nothing is skipped unseen.
 */
export function parseSddl(sddl: string): SddlDescriptor {
  const text = sddl.replace(/\s+/g, '');
  const owner = new RegExp(`^O:(${SID})`).exec(text)?.[1] ?? null;
  const at = text.indexOf('D:');
  if (at === -1) {
    return { owner, dacl: null };
  }
  let rest = text.slice(at + 2);
  const flags = /^[A-Z_]*/.exec(rest)?.[0] ?? '';
  if (flags.includes('NO_ACCESS_CONTROL')) {
    return { owner, dacl: null };
  }
  rest = rest.slice(flags.length);
  const aces: SddlAce[] = [];
  for (let entry = /^\(([^()]*)\)/.exec(rest); entry !== null; entry = /^\(([^()]*)\)/.exec(rest)) {
    const body = entry[1] ?? '';
    const fields = body.split(';');
    const [type = '', aceFlags = '', rights = '', , , sid = ''] = fields;
    const mask = parseRights(rights);
    if (fields.length !== 6 || mask === null || !new RegExp(`^${SID}$`).test(sid)) {
      throw new Error(`unreadable ACE (${body.slice(0, 200)})`);
    }
    aces.push({ type, flags: aceFlags, mask, sid });
    rest = rest.slice(entry[0].length);
  }
  // Only the SACL may follow the DACL.
  if (rest !== '' && !rest.startsWith('S:')) {
    throw new Error(`unreadable DACL from ${rest.slice(0, 200)}`);
  }
  return { owner, dacl: aces };
}

/**
 * Why the file's access lets someone besides SYSTEM and Administrators read or change it, or
 * null. Deny entries are skipped (they take away, never give); inherit-only entries do not
 * apply to the file itself; an allow entry of a kind not understood is refused.
 */
export function tokenFileAclProblem(descriptor: SddlDescriptor): string | null {
  if (descriptor.owner === null || !TRUSTED.has(descriptor.owner)) {
    // The owner may always rewrite the DACL, so owning it is as good as reading it.
    return `it is owned by ${descriptor.owner ?? 'nobody known'}, not SYSTEM or Administrators`;
  }
  if (descriptor.dacl === null) {
    return 'it has no access list, so everyone may read and change it';
  }
  for (const ace of descriptor.dacl) {
    if (ace.type === 'D' || ace.type === 'OD' || ace.type === 'XD' || /IO/.test(ace.flags)) {
      continue;
    }
    if (ace.type !== 'A') {
      return `it has an access entry of a kind not understood here (${ace.type} for ${ace.sid})`;
    }
    if (!TRUSTED.has(ace.sid) && (ace.mask & ~HARMLESS) !== 0) {
      const mask = `0x${ace.mask.toString(16)}`;
      return `${ace.sid} is allowed access ${mask} to it`;
    }
  }
  return null;
}

// PowerShell treats these as single quotes too; a path holding one could end the string.
const QUOTES = /['\u2018\u2019\u201a\u201b]/;
const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) < 0x20) {
      return true;
    }
  }
  return false;
};

/** The script that prints the file's security descriptor as `{"Sddl": "…"}`. */
export function aclScript(path: string): string {
  if (QUOTES.test(path) || hasControl(path)) {
    throw new AgentConfigError(`${path}: the path has characters the ACL check cannot quote`);
  }
  return [
    '[Console]::OutputEncoding = [System.Text.Encoding]::UTF8',
    "$ErrorActionPreference = 'Stop'",
    `$acl = Get-Acl -LiteralPath '${path}'`,
    '@{ Sddl = $acl.Sddl } | ConvertTo-Json -Compress',
  ].join('\n');
}

/**
 * Refuses to start (AgentConfigError) unless agent.json, holding the token, is SYSTEM's and
 * Administrators' alone. An ACL that cannot be read or understood is refused too: fail closed.
 */
export async function assertWindowsTokenFileAccess(host: Host, path: string): Promise<void> {
  const output = await host.run('powershell.exe', powershellArgs(aclScript(path)), {
    timeoutMs: 20_000,
  });
  const parsed = parseJsonOutput(output.stdout);
  const sddl = (parsed as { Sddl?: unknown } | undefined)?.Sddl;
  const fix =
    `Fix: icacls "${path}" /inheritance:r /grant:r "*S-1-5-18:F" "*S-1-5-32-544:F" ` +
    `/setowner "*S-1-5-32-544"`;
  if (typeof sddl !== 'string') {
    const why = output.stderr.trim().slice(0, 300) || `exit ${output.exitCode}`;
    throw new AgentConfigError(
      `${path} holds the enrolment token and its access list could not be read (${why}): refusing to start`,
    );
  }
  let problem: string | null;
  try {
    problem = tokenFileAclProblem(parseSddl(sddl));
  } catch (error) {
    problem = `its access list is not understood: ${(error as Error).message}`;
  }
  if (problem !== null) {
    throw new AgentConfigError(
      `${path} holds the enrolment token but ${problem}: refusing to start. ${fix}`,
    );
  }
}
