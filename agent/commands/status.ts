import type { AgentStatus } from '../../shared/index.ts';
import { ipcRequest } from '../service/ipc-server.ts';

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
  return lines.join('\n') + '\n';
}

/** `hallpass status`: asks the running service over IPC. */
export async function statusCommand(options: {
  ipcPath: string;
  json: boolean;
  write: (text: string) => void;
}): Promise<number> {
  let answer;
  try {
    answer = await ipcRequest(options.ipcPath, 'status:get', 10_000);
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
