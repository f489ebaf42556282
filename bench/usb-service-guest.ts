// The real service in the USB guard's QEMU guest (test/helpers/usb-guest.ts, role
// `observe-service`), enrolled at a real server on this host (PGlite) as
// test/e2e/usb-guard.test.ts does it: shared by bench/usb-idle.bench.ts and
// bench/usb-service.bench.ts. The server keeps every report raw, so a benchmark can count what
// was delivered; its group's policy is the example policy with the benchmark's USB section.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPolicyFile } from '../agent/core/policy/policy-file.ts';
import { defaultServerConfig } from '../server/config.ts';
import { startServer } from '../server/main.ts';
import { ensureDeviceGroup, ensureSchool } from '../server/store/organisation.ts';
import { uploadPolicy } from '../server/store/policies.ts';
import { createEnrolmentToken } from '../server/store/tokens.ts';
import type { UsbPolicy } from '../shared/index.ts';
import type { GuestService } from '../test/helpers/usb-guest.ts';

/** A server on the host's 127.0.0.1 for guests to enrol at. */
export interface UsbBenchServer {
  /** Its port on the host's 127.0.0.1 (the guest reaches it through the observer's relay). */
  port: number;
  /** What buildUsbGuest needs to run the real service, enrolled with this server's token. */
  guestService(usbGuard: boolean): GuestService;
  /** Reports the server has stored so far. */
  countReports(): Promise<number>;
  /** Stops the server and deletes its data. */
  stop(): Promise<void>;
}

/** Starts the server with one school, one group, an enrolment token and the group's policy. */
export async function startUsbBenchServer(
  policyName: string,
  usb: UsbPolicy,
): Promise<UsbBenchServer> {
  const work = await mkdtemp(join(tmpdir(), 'hallpass-usb-bench-'));
  const server = await startServer({
    ...defaultServerConfig,
    host: '127.0.0.1',
    port: 0,
    dataDir: join(work, 'server'),
    logLevel: 'silent',
    reportStorage: 'all',
  });
  try {
    const port = (server.app.server.address() as AddressInfo).port;
    const school = await ensureSchool(server.db, 'Northgate Primary');
    const group = await ensureDeviceGroup(server.db, 'Pupil laptops');
    const { token } = await createEnrolmentToken(server.db, {
      schoolId: school.id,
      groupId: group.id,
      label: 'bench',
      expiresAt: new Date(Date.now() + 86_400_000),
      maxUses: 100,
      createdBy: null,
    });
    const example = await readPolicyFile(
      new URL('../agent/core/policy/example-policy.yaml', import.meta.url).pathname,
    );
    await server.db.transaction((tx) =>
      uploadPolicy(tx, {
        groupId: group.id,
        policy: { ...example, name: policyName, usb },
        uploadedBy: null,
      }),
    );
    return {
      port,
      guestService: (usbGuard) => ({
        config: {
          // Loopback in the guest, relayed to this host's: plain http is for loopback only.
          serverUrl: `http://127.0.0.1:${String(port)}`,
          enrolmentToken: token,
          stateDir: '/var/lib/hallpass',
          ipcPath: '/run/hallpass/agent.sock',
          usbGuard,
          startupJitterSeconds: 0,
        },
        serverPort: port,
      }),
      countReports: async () => {
        const rows = await server.db.query<{ n: number | string }>(
          'select count(*) as n from reports',
        );
        return Number(rows[0]?.n ?? 0);
      },
      stop: async () => {
        await server.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.stop();
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

/** Polls `probe` every `everyMs` until it gives a value; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out: ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** After the service's first delivery: the first pass's children (probes) have exited by then. */
export const SETTLE_SECONDS = 20;

/**
 * Waits until the server has a report beyond the `before` it had when the guest started (the
 * service enrolled, fetched its policy and delivered), then SETTLE_SECONDS more.
 */
export async function serviceSettled(
  server: UsbBenchServer,
  before: number,
  timeoutMs: number,
): Promise<void> {
  await until(
    'the first report',
    async () => ((await server.countReports()) > before ? true : undefined),
    timeoutMs,
  );
  await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
}
