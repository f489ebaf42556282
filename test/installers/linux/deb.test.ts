// The Debian package, installed for real (issue 17): built with scripts/build-deb.ts, installed
// with dpkg into a clean Debian 12 root (debootstrap minbase, test/helpers/debian-root.ts),
// enrolled from the file ICT drops, reporting to the real server; upgraded to a newer build that
// keeps the device's identity; purged. The service runs as the installed unit's ExecStart, in a
// chroot with its own /proc: this machine has no systemd as PID 1 to start the unit itself
// (deb-systemd.test.ts boots a QEMU guest whose PID 1 is systemd for that).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { lstat, readFile, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipcRequest } from '../../../agent/service/ipc-server.ts';
import { buildDeb } from '../../../scripts/build-deb.ts';
import type { AgentStatus } from '../../../shared/index.ts';
import { testEngines } from '../../helpers/databases.ts';
import { freshDebianRoot, inRoot, type DebianRoot } from '../../helpers/debian-root.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { stopAgent, waitFor } from '../../helpers/agent-process.ts';
import packageJson from '../../../package.json' with { type: 'json' };

const execFileAsync = promisify(execFile);
const engine = testEngines.find((e) => e.name === 'pglite');
const isRoot = process.getuid?.() === 0;
const started = performance.now();

describe.skipIf(!isRoot || process.platform !== 'linux')(
  'the hallpass .deb in a clean Debian root',
  { timeout: 900_000 },
  () => {
    let server: TestServer;
    let url: string;
    let root: DebianRoot;
    const older = `${packageJson.version}+deb1`;
    const newer = `${packageJson.version}+deb2`;
    const debs: Record<string, string> = {};

    beforeAll(async () => {
      if (engine === undefined) {
        throw new Error('no PGlite engine');
      }
      server = await startTestServer(engine);
      await server.app.listen({ host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
      root = await freshDebianRoot();
      // gzip -1: these packages are installed once and thrown away; xz is for what ships.
      for (const version of [older, newer]) {
        const deb = await buildDeb({ version, outDir: root.dir, compression: 'gzip-fast' });
        debs[version] = `/${deb.slice(root.dir.length + 1)}`;
      }
    }, 900_000);
    afterAll(async () => {
      await server.close();
      await root.remove();
      process.stdout.write(
        `deb test: ${((performance.now() - started) / 1000).toFixed(0)} s in all (builds included)\n`,
      );
    });

    const at = (path: string) => join(root.dir, path);
    const exists = (path: string) =>
      lstat(at(path)).then(
        () => true,
        () => false,
      );

    /** The installed unit's ExecStart, run in the root with its own /proc (as systemd would). */
    async function startInstalledService(): Promise<ChildProcess & { output: () => string }> {
      const unit = await readFile(at('lib/systemd/system/hallpass.service'), 'utf8');
      const execStart = /^ExecStart=(.+)$/m.exec(unit)?.[1]?.trim().split(/\s+/) ?? [];
      expect(execStart).toEqual(['/usr/bin/hallpass', 'service']);
      // One process from unshare to the service (exec all the way): SIGTERM reaches it as
      // systemd's would. The private mount namespace takes /proc away when it ends.
      const child = spawn(
        'unshare',
        [
          '--mount',
          'chroot',
          root.dir,
          '/bin/sh',
          '-c',
          'mount -t proc proc /proc && exec "$@"',
          'sh',
          ...execStart,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
      );
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      return Object.assign(child, { output: () => output });
    }

    async function status(): Promise<AgentStatus | null> {
      try {
        const answer = await ipcRequest(at('run/hallpass/agent.sock'), 'status:get', 5000);
        return answer.ok ? answer.status : null;
      } catch {
        return null;
      }
    }

    const reportsFrom = async (deviceId: string) =>
      server.db.query<{ agent_version: string }>(
        `select facts->>'agentVersion' as agent_version from devices where id = $1`,
        [deviceId],
      );
    const stopEvents = (deviceId: string) =>
      server.db.query<{ id: string }>(
        `select id from events where device_id = $1 and type = 'tamper.agent-stopped'`,
        [deviceId],
      );

    // Debian's own checker: no error or warning beyond the tags installers/linux/debian/
    // lintian-overrides names, each with its reason (they ship inside the package).
    it('lintian finds no error or warning beyond the overridden tags', async () => {
      const deb = join(root.dir, debs[older] ?? '');
      const result = await execFileAsync('lintian', ['--fail-on', 'error,warning', deb], {
        timeout: 600_000,
        maxBuffer: 16 << 20,
      }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: unknown) => {
          const failed = error as { code?: number; stdout?: string; stderr?: string };
          return {
            code: failed.code ?? -1,
            stdout: `${failed.stdout ?? ''}${failed.stderr ?? ''}`,
          };
        },
      );
      expect(result.stdout.split('\n').filter((line) => /^[EW]: /.test(line))).toEqual([]);
      expect(result.code).toBe(0);
    });

    it('installs, enrols from the dropped file, keeps its identity across an upgrade, and purges clean', async () => {
      // What ICT's fleet tool drops before installing: root's, 0600.
      const token = await server.newToken();
      await inRoot(root, ['mkdir', '-p', '/etc/hallpass']);
      await writeFile(
        at('etc/hallpass/agent.json'),
        JSON.stringify({
          serverUrl: url,
          enrolmentToken: token.token,
          // The root shares this host's kernel: the guard must not change the host's USB
          // authorisation (it is tested in QEMU, test/agent/core/usb).
          usbGuard: false,
          startupJitterSeconds: 0,
        }),
        { mode: 0o600 },
      );

      await inRoot(root, ['dpkg', '-i', debs[older] ?? '']);
      expect((await inRoot(root, ['dpkg-query', '-W', 'hallpass'])).stdout.trim()).toBe(
        `hallpass\t${older}`,
      );
      expect(await exists('lib/udev/rules.d/70-hallpass-usb-storage.rules')).toBe(true);
      // The initramfs-tools hook, executable as initramfs-tools runs hooks (initramfs-tools(7)).
      // This root has no initramfs-tools, so postinst's `update-initramfs -u` is skipped here;
      // the hook itself is tested on a real kernel in initramfs-hook.test.ts.
      expect((await stat(at('usr/share/initramfs-tools/hooks/hallpass'))).mode & 0o7777).toBe(
        0o755,
      );
      expect(await exists('etc/xdg/autostart/hallpass-tray.desktop')).toBe(true);
      // Enabled as deb-systemd-helper enables a unit where systemd is not running.
      expect(await exists('etc/systemd/system/multi-user.target.wants/hallpass.service')).toBe(
        true,
      );
      expect((await stat(at('var/lib/hallpass'))).mode & 0o777).toBe(0o700);

      let service = await startInstalledService();
      const first = await waitFor(
        'the first report from the installed service',
        async () => {
          const s = await status();
          return s?.lastDeliveryAt !== null && s?.outbox.reports === 0 ? s : null;
        },
        240_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${service.output()}`);
      });
      const deviceId = first.deviceId ?? '';
      expect(first.agentVersion).toBe(older);
      expect(await reportsFrom(deviceId)).toEqual([{ agent_version: older }]);
      // The token is spent: gone from the file ICT dropped.
      const config = JSON.parse(await readFile(at('etc/hallpass/agent.json'), 'utf8')) as object;
      expect(config).not.toHaveProperty('enrolmentToken');
      expect(config).toHaveProperty('serverUrl', url);
      const credential = await readFile(at('var/lib/hallpass/device-credential.json'), 'utf8');

      // The upgrade: the service stops (as postinst's restart stops it), dpkg installs the newer
      // build over it, the service starts again on the new executable.
      expect(await stopAgent(service)).toBe(0);
      expect(await stopEvents(deviceId)).toHaveLength(1);
      await inRoot(root, ['dpkg', '-i', debs[newer] ?? '']);
      expect(await readFile(at('var/lib/hallpass/device-credential.json'), 'utf8')).toBe(
        credential,
      );
      service = await startInstalledService();
      const upgraded = await waitFor(
        'a report from the upgraded service',
        async () => {
          const s = await status();
          return s?.agentVersion === newer && s.lastDeliveryAt !== null && s.outbox.reports === 0
            ? s
            : null;
        },
        240_000,
      );
      expect(upgraded.deviceId).toBe(deviceId);
      expect(await reportsFrom(deviceId)).toEqual([{ agent_version: newer }]);
      const devices = await server.db.query<{ id: string }>(
        'select id from devices where enrolled_via = $1',
        [token.id],
      );
      expect(devices.map((d) => d.id)).toEqual([deviceId]);

      // Purge: stopped first (prerm's `systemctl stop`), then everything the device held goes.
      expect(await stopAgent(service)).toBe(0);
      expect(await stopEvents(deviceId)).toHaveLength(2);
      await inRoot(root, ['dpkg', '--purge', 'hallpass']);
      for (const path of [
        'usr/bin/hallpass',
        'lib/systemd/system/hallpass.service',
        'lib/udev/rules.d/70-hallpass-usb-storage.rules',
        'usr/share/initramfs-tools/hooks/hallpass',
        'etc/xdg/autostart/hallpass-tray.desktop',
        'etc/hallpass',
        'var/lib/hallpass',
        'etc/systemd/system/multi-user.target.wants/hallpass.service',
      ]) {
        expect({ path, exists: await exists(path) }).toEqual({ path, exists: false });
      }
      await expect(inRoot(root, ['dpkg-query', '-W', 'hallpass'])).rejects.toThrow(
        /no packages found matching hallpass/,
      );
    });
  },
);
