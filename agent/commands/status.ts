import {
  describeProblems,
  IpcResponseSchema,
  validate,
  type AgentStatus,
  type IpcResponse,
  type UsbDecision,
} from '../../shared/index.ts';
import { connectIpc, proveIpcPeer } from '../core/ipc-peer/client.ts';
import { peersFolderFor } from '../core/ipc-peer/peer-proof.ts';
import type { OsName } from '../core/platform.ts';

/** Renders the service's status for people. */
export function renderStatus(status: AgentStatus): string {
  const line = (label: string, value: string) => `${label.padEnd(22)}${value}`;
  const lines = [
    line(
      'Enrolled',
      status.enrolled ? `yes, device ${status.deviceId ?? ''} at ${status.serverUrl ?? ''}` : 'no',
    ),
    line('Policy', `${status.policy.name} (version ${status.policy.version})`),
    line('Last check pass', status.lastCheckAt ?? 'never'),
    line('Last report queued', status.lastReportQueuedAt ?? 'never'),
    line('Last delivery', status.lastDeliveryAt ?? 'never'),
    line('Outbox', `${status.outbox.reports} reports, ${status.outbox.events} events waiting`),
  ];
  if (status.passFailures !== null) {
    // Passes that ran but could not be stored (a full disk): nothing reaches ICT meanwhile.
    lines.push(
      line(
        'CHECK PASSES FAILING',
        `${status.passFailures.count} in a row since ${status.passFailures.since}: ${status.passFailures.lastError}`,
      ),
    );
  }
  if (status.lastDeliveryError !== null) {
    lines.push(line('Last delivery error', status.lastDeliveryError));
  }
  if (status.nextDeliveryAttemptAt !== null) {
    // After a restart the error itself is gone, but the wait (and the server's Retry-After) is not.
    lines.push(
      line(
        'Next delivery attempt',
        `${status.nextDeliveryAttemptAt} (after ${status.deliveryFailures} failed ${status.deliveryFailures === 1 ? 'attempt' : 'attempts'})`,
      ),
    );
  }
  lines.push('', 'Last results:');
  for (const r of status.results) {
    lines.push(`  ${r.status.toUpperCase().padEnd(8)} ${r.checkId.padEnd(16)} ${r.summary}`);
  }
  if (status.results.length === 0) {
    lines.push('  (no check pass yet)');
  }
  lines.push('', ...renderUsb(status.usb));
  if (status.trays !== undefined) {
    lines.push('', 'Trays connected:');
    for (const tray of status.trays) {
      lines.push(`  ${tray.user ?? '(no name)'} since ${tray.since}`);
    }
    if (status.trays.length === 0) {
      lines.push('  (none)');
    }
  }
  return lines.join('\n') + '\n';
}

/** Decisions listed in the plain view; all 50 are in `--json`. */
const USB_SHOWN = 10;

/** The USB guard's part: its mode, what stops it, and the latest decisions in plain words. */
export function renderUsb(usb: AgentStatus['usb']): string[] {
  const lines = [`USB guard: mode ${usb.mode} (${MODE_WORDS[usb.mode]})`];
  if (usb.problem !== null) {
    lines.push(`  PROBLEM: ${usb.problem}`);
  }
  if (usb.recent.length === 0) {
    lines.push('  (no USB storage decisions yet)');
    return lines;
  }
  lines.push('  Recent decisions, newest first:');
  for (const decision of usb.recent.slice(0, USB_SHOWN)) {
    lines.push(`  ${decision.at}  ${describeUsbDecision(decision)}`);
  }
  if (usb.recent.length > USB_SHOWN) {
    lines.push(`  … and ${usb.recent.length - USB_SHOWN} earlier (hallpass status --json)`);
  }
  return lines;
}

const MODE_WORDS: Record<AgentStatus['usb']['mode'], string> = {
  block: 'unapproved storage is blocked',
  'read-only': 'unapproved storage is read-only',
  audit: 'all storage is allowed and reported',
  allow: 'all storage is allowed',
};

/** One decision as a sentence: what happened to which device, why, and who was signed in. */
export function describeUsbDecision(decision: UsbDecision): string {
  const { device } = decision;
  const serial = device.serial === null ? 'no serial' : `serial ${device.serial}`;
  const what = `${device.name} (${device.vendorId}:${device.productId}, ${serial})`;
  const action = {
    blocked: 'Blocked',
    'read-only': 'Made read-only',
    'read-write': 'Allowed',
    'left-alone': 'Left alone',
  }[decision.action];
  const why = {
    'not-approved': 'it is not on the approved list',
    'approval-expired': 'its approval has expired',
    approved:
      decision.approvalId === null ? 'it is approved' : `it is approved (${decision.approvalId})`,
    exempt: 'the signed-in user is exempt',
    mode: `mode ${decision.mode} lets every device through`,
    'system-disk': 'the system runs from it',
  }[decision.basis];
  const who = decision.user === null ? 'nobody signed in' : `user ${decision.user}`;
  return `${action}: ${what}, because ${why}; ${who}`;
}

/**
 * Asks the service for its status on a connection proven first (agent/core/ipc-peer), so the
 * service knows who asks and root and the console user see what is theirs (the trays). A proof
 * that fails (a service of an older version, a peers folder this OS lacks) still gets the
 * status every local user may read.
 */
async function provenStatus(os: OsName, ipcPath: string): Promise<IpcResponse> {
  const connection = await connectIpc(ipcPath, 10_000);
  try {
    await proveIpcPeer(
      (request) => connection.ask(request),
      peersFolderFor(os, ipcPath, process.env.ProgramData),
    ).catch(() => null);
    const raw = await connection.ask({ channel: 'status:get' });
    const checked = validate(IpcResponseSchema, raw);
    if (!checked.ok) {
      throw new Error(`invalid answer from the service: ${describeProblems(checked.problems)}`);
    }
    return checked.value;
  } finally {
    connection.close();
  }
}

/** `hallpass status`: asks the running service over IPC. */
export async function statusCommand(options: {
  os?: OsName;
  ipcPath: string;
  json: boolean;
  write: (text: string) => void;
}): Promise<number> {
  let answer;
  try {
    answer = await provenStatus(options.os ?? 'linux', options.ipcPath);
  } catch (error) {
    throw new ServiceUnavailable(
      `the Hallpass service is not running (nothing answers at ${options.ipcPath}: ${(error as Error).message})`,
    );
  }
  if (!answer.ok) {
    throw new ServiceUnavailable(`the service refused: ${answer.error}`);
  }
  options.write(
    options.json ? JSON.stringify(answer.status, null, 2) + '\n' : renderStatus(answer.status),
  );
  return 0;
}

/** The service could not be reached. */
export class ServiceUnavailable extends Error {}
