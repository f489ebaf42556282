// Peer proofs on Windows (a named pipe has no folder and Node reads no file owner there): the
// proof file goes into %ProgramData%\Hallpass\peers, whose ACL lets Users add a file but not
// list or read the folder, and SYSTEM reads the new file's owner from its security descriptor
// (`Get-Acl | Format-List`, the SDDL's `O:` part: a SID or a well-known alias, never the
// localised account name), refuses a reparse point (a symbolic link or junction) and a file
// with more than one name (`fsutil hardlink list`), then deletes it. Never run on this build
// machine: the parsing is tested on recorded outputs (test/fixtures/windows/ipc-peer).
import type { Host } from '../host.ts';
import { powershellArgs } from '../powershell.ts';
import {
  NONCE_PATTERN,
  PROOF_CLOCK_SLACK_MS,
  type PeerProofPlatform,
  type ProofVerdict,
} from './peer-proof.ts';

const TIMEOUT_MS = 30_000;
const SID = /^S-1-[0-9]+(?:-[0-9]+){1,14}$/;
/** Owners that are the service's own: LocalSystem, and Administrators (an elevated admin's files). */
const PRIVILEGED = new Set(['SY', 'BA', 'S-1-5-18', 'S-1-5-32-544']);
/** The well-known aliases an owner may be written as, with their SIDs. */
const ALIASES: Record<string, string> = {
  SY: 'S-1-5-18',
  BA: 'S-1-5-32-544',
  LS: 'S-1-5-19',
  NS: 'S-1-5-20',
};

/**
 * The owner SID from `Get-Acl | Format-List` output: the `Sddl :` value with its wrapped
 * continuation lines joined. Null with a reason when the output has no SDDL or no owner.
 */
export function parseAclOwner(output: string): { sid: string } | { problem: string } {
  const lines = output.replace(/\r/g, '').split('\n');
  const start = lines.findIndex((line) => /^Sddl\s+:/.test(line));
  if (start === -1) {
    return { problem: 'Get-Acl printed no Sddl line' };
  }
  let sddl = (lines[start] ?? '').replace(/^Sddl\s+:\s?/, '');
  // Format-List wraps long values onto lines indented to the value column.
  for (const line of lines.slice(start + 1)) {
    if (!/^\s{2,}\S/.test(line)) {
      break;
    }
    sddl += line.trim();
  }
  const owner = /^O:(S-1-[0-9-]+?|[A-Z]{2})(?=G:|D:|S:|$)/.exec(sddl.trim())?.[1];
  if (owner === undefined) {
    return {
      problem: `the security descriptor names no owner: ${JSON.stringify(sddl.slice(0, 80))}`,
    };
  }
  const sid = SID.test(owner) ? owner : ALIASES[owner];
  if (sid === undefined) {
    return { problem: `an owner alias this service does not know: ${owner}` };
  }
  return { sid };
}

/** Names `fsutil hardlink list` printed for a file: one line per name. */
export function countHardLinks(output: string): number {
  return output
    .replace(/\r/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '').length;
}

/** What the inspection script printed, split into its three parts. */
export interface WindowsProofOutput {
  attributes: string;
  creationTimeUtc: string;
  acl: string;
  hardLinks: string;
}

/** Splits the inspection script's output on its `=====` markers; null when a part is missing. */
export function splitProofOutput(output: string): WindowsProofOutput | null {
  const parts = output.replace(/\r/g, '').split(/^=====.*$/m);
  if (parts.length !== 4) {
    return null;
  }
  const head = parts[1] ?? '';
  const attributes = /^Attributes: (.*)$/m.exec(head)?.[1]?.trim();
  const creationTimeUtc = /^CreationTimeUtc: (.*)$/m.exec(head)?.[1]?.trim();
  if (attributes === undefined || creationTimeUtc === undefined) {
    return null;
  }
  return { attributes, creationTimeUtc, acl: parts[2] ?? '', hardLinks: parts[3] ?? '' };
}

/** The verdict on one inspected proof file. */
export function windowsProofVerdict(output: WindowsProofOutput, issuedAtMs: number): ProofVerdict {
  if (/ReparsePoint/i.test(output.attributes)) {
    return { ok: false, reason: 'the proof is a reparse point (a link or junction)' };
  }
  if (/Directory/i.test(output.attributes)) {
    return { ok: false, reason: 'the proof is not a plain file' };
  }
  const links = countHardLinks(output.hardLinks);
  if (links !== 1) {
    return {
      ok: false,
      reason: `the proof file has ${String(links)} names (a hard link to another file)`,
    };
  }
  const created = Date.parse(output.creationTimeUtc);
  if (Number.isNaN(created)) {
    return { ok: false, reason: 'the proof file has no creation time Windows could say' };
  }
  if (created < issuedAtMs - PROOF_CLOCK_SLACK_MS) {
    return { ok: false, reason: 'the proof file is older than the challenge' };
  }
  const owner = parseAclOwner(output.acl);
  if ('problem' in owner) {
    return { ok: false, reason: owner.problem };
  }
  return { ok: true, id: owner.sid, privileged: PRIVILEGED.has(owner.sid) };
}

// The path and SID reach PowerShell in environment variables, never spliced into the script.
const INSPECT = `$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [Text.Encoding]::UTF8
$p = $env:HALLPASS_PROOF
try {
  $i = Get-Item -LiteralPath $p -Force
  '====='
  "Attributes: $($i.Attributes)"
  "CreationTimeUtc: $($i.CreationTimeUtc.ToString('o'))"
  '====='
  Get-Acl -LiteralPath $p | Format-List | Out-String -Width 4096
  '====='
  fsutil hardlink list $p
} finally {
  Remove-Item -LiteralPath $p -Force -ErrorAction SilentlyContinue
}`;

const NAME_OF_SID = `$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [Text.Encoding]::UTF8
(New-Object System.Security.Principal.SecurityIdentifier $env:HALLPASS_SID).Translate([System.Security.Principal.NTAccount]).Value`;

// SYSTEM and Administrators: full control of the folder and what is in it; Users: add a file to
// the folder (WD) and nothing else: no listing (RD), no reading of others' files.
const PREPARE = `$ErrorActionPreference = 'Stop'
$d = $env:HALLPASS_PEERS
New-Item -ItemType Directory -Force -Path $d | Out-Null
icacls $d /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-32-545:(WD)' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls failed: $LASTEXITCODE" }
Get-ChildItem -LiteralPath $d -Force | Remove-Item -Force -ErrorAction SilentlyContinue`;

const SWEEP = `$ErrorActionPreference = 'SilentlyContinue'
$cutoff = [DateTime]::UtcNow.AddMilliseconds(-[double]$env:HALLPASS_OLDER_MS)
Get-ChildItem -LiteralPath $env:HALLPASS_PEERS -Force | Where-Object { $_.CreationTimeUtc -lt $cutoff } | Remove-Item -Force`;

/** The Windows peer-proof platform for the peers folder `folder`. */
export function windowsPeerProof(folder: string, host: Host): PeerProofPlatform {
  const powershell = (script: string, env: Record<string, string>) =>
    host.run('powershell.exe', powershellArgs(script), { timeoutMs: TIMEOUT_MS, env });
  return {
    folder,
    async prepare() {
      const answer = await powershell(PREPARE, { HALLPASS_PEERS: folder });
      if (answer.exitCode !== 0) {
        throw new Error(`cannot prepare ${folder}: ${answer.stderr.trim().slice(0, 300)}`);
      }
    },
    async inspect(nonce, issuedAtMs) {
      if (!NONCE_PATTERN.test(nonce)) {
        return { ok: false, reason: 'not a nonce' };
      }
      const answer = await powershell(INSPECT, { HALLPASS_PROOF: `${folder}\\${nonce}` });
      if (answer.exitCode !== 0) {
        return { ok: false, reason: 'no proof file was made (or it could not be read)' };
      }
      const parts = splitProofOutput(answer.stdout);
      return parts === null
        ? { ok: false, reason: 'the proof inspection printed an output this service does not know' }
        : windowsProofVerdict(parts, issuedAtMs);
    },
    async userName(id) {
      if (!SID.test(id)) {
        return null;
      }
      const answer = await powershell(NAME_OF_SID, { HALLPASS_SID: id }).catch(() => null);
      const name = answer?.stdout.trim() ?? '';
      return answer?.exitCode === 0 && /^[^\p{Cc}]{1,512}$/u.test(name) ? name : null;
    },
    async sweep(olderThanMs) {
      await powershell(SWEEP, { HALLPASS_PEERS: folder, HALLPASS_OLDER_MS: String(olderThanMs) });
    },
  };
}
