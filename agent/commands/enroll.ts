// `hallpass enroll`: enrols this device with a token once, or replaces its enrolment with proof
// (issue 12): its current key signs the replacement, or ICT has allowed the device's re-enrolment
// (after a reimage, when the key is gone) and a token is given. A token and public facts (the
// device id, the machine id) never replace a device.
import { enrolDevice, type Replacement } from '../core/enrolment.ts';
import { collectDeviceFacts } from '../core/facts/device-facts.ts';
import { secretStoreFor } from '../core/secrets/index.ts';
import type { DeviceCredential } from '../core/secrets/secret-store.ts';
import { normalizeServerUrl } from '../core/server-client.ts';
import { agentConfig, type AgentCommandOptions } from './service.ts';

/** A refusal of `hallpass enroll` that the user can act on. */
export class EnrolRefused extends Error {}

/** What `hallpass enroll` was asked to do. */
export interface EnrolRequest {
  serverUrl: string | undefined;
  token: string | undefined;
  /** `--replace`: replace this device's enrolment (with its key, or `device` with approval). */
  replace: boolean;
  /** `--device ID` with `--replace`: the device ICT allowed to re-enrol. */
  device: string | undefined;
}

/** Works out which enrolment to make from the flags and the stored credential. */
export function planEnrolment(
  request: EnrolRequest,
  existing: DeviceCredential | null,
  location: string,
): { serverUrl: string; token?: string; replaces?: Replacement } {
  if (!request.replace) {
    if (request.device !== undefined) {
      throw new EnrolRefused('--device goes with --replace');
    }
    if (existing !== null) {
      throw new EnrolRefused(
        `this device is already enrolled as ${existing.deviceId} at ${existing.serverUrl}; use --replace to re-enrol it explicitly`,
      );
    }
    if (request.serverUrl === undefined || request.token === undefined) {
      throw new EnrolRefused('enroll needs --server URL and --token TOKEN');
    }
    return { serverUrl: request.serverUrl, token: request.token };
  }
  if (existing !== null && (request.device === undefined || request.device === existing.deviceId)) {
    // With the credential at hand, its key signs the replacement: the proof the server asks for.
    return { serverUrl: existing.serverUrl, replaces: { credential: existing } };
  }
  if (existing !== null) {
    throw new EnrolRefused(
      `this device is enrolled as ${existing.deviceId}, not ${String(request.device)}; ` +
        'run --replace without --device to re-enrol it',
    );
  }
  if (request.device === undefined) {
    throw new EnrolRefused(
      `there is no device credential in ${location} to prove which device this is. To replace ` +
        'a device whose key was lost (a reimage), ask ICT to allow its re-enrolment on the ' +
        'dashboard, then run: hallpass enroll --replace --device ID --server URL --token TOKEN',
    );
  }
  if (request.serverUrl === undefined || request.token === undefined) {
    throw new EnrolRefused('enroll --replace --device ID needs --server URL and --token TOKEN');
  }
  return {
    serverUrl: request.serverUrl,
    token: request.token,
    replaces: { deviceId: request.device },
  };
}

/** `hallpass enroll`: see planEnrolment for the forms it takes. */
export async function enrolCommand(options: AgentCommandOptions & EnrolRequest): Promise<number> {
  const config = await agentConfig(options);
  const store = secretStoreFor(options.os, { stateDir: config.stateDir, run: options.host.run });
  const existing = await store.read();
  const plan = planEnrolment(options, existing, store.location);
  if (
    existing !== null &&
    plan.replaces !== undefined &&
    options.serverUrl !== undefined &&
    normalizeServerUrl(options.serverUrl) !== existing.serverUrl
  ) {
    throw new EnrolRefused(
      `this device is enrolled at ${existing.serverUrl}; --replace re-enrols it there`,
    );
  }
  const { facts } = await collectDeviceFacts(options.os, options.agentVersion);
  const enrolment = await enrolDevice({
    serverUrl: plan.serverUrl,
    ...(plan.token === undefined ? {} : { token: plan.token }),
    facts,
    store,
    ...(plan.replaces === undefined ? {} : { replaces: plan.replaces }),
  });
  options.write(
    `Enrolled as device ${enrolment.deviceId}; the credential is in ${store.location}.\n` +
      (enrolment.cloneSuspect
        ? 'Note: another enrolled device has this machine id (a cloned image?); ICT will see both flagged.\n'
        : '') +
      // A running service still holds the old key, which the server now refuses.
      (plan.replaces === undefined
        ? ''
        : 'Restart the Hallpass service so that it uses the new credential.\n'),
  );
  return 0;
}
