// Builds the packaged agent (bundle + single executable) into a temporary folder and runs it as an
// operator would, so CI proves the binary that ships works, not only the TypeScript it came from.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { buildAgent, SEA_EXEC_ARGV } from '../../scripts/build-agent.ts';
import { jsonSchemaFiles } from '../../scripts/json-schemas.ts';
import { DeviceFactsSchema, validate, type ComplianceReport } from '../../shared/index.ts';
import { readDefaultPolicy } from '../../agent/core/policy/policy-file.ts';
import { agentHome, agentStatus, stopAgent, waitFor } from '../helpers/agent-process.ts';
import { testEngines } from '../helpers/databases.ts';
import { startTestServer } from '../helpers/test-server.ts';

const root = new URL('../../', import.meta.url).pathname;

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

function run(file: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env: { ...process.env, NO_COLOR: '1' }, timeout: 600_000, maxBuffer: 8 << 20 },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? -1 : 0;
        resolve({ stdout, stderr, code });
      },
    );
  });
}

/**
 * Every file under agent/ that the service's code reads beside itself (scripts, the default
 * policy). The tray's (agent/tray/) are the tray build's to ship (scripts/build-tray.ts).
 */
async function shippedFiles(): Promise<string[]> {
  const entries = await readdir(join(root, 'agent'), { recursive: true });
  return entries
    .filter((name) => !name.startsWith(`tray${sep}`))
    .filter(
      (name) =>
        name.endsWith('.ps1') ||
        name.endsWith('.rules') ||
        name === 'core/policy/default-policy.yaml',
    )
    .map((name) => relative(root, join(root, 'agent', name)))
    .sort();
}

function expectValidReport(stdout: string): ComplianceReport {
  const report = JSON.parse(stdout) as ComplianceReport;
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const validateReport = ajv.compile(
    JSON.parse(jsonSchemaFiles()['compliance-report.schema.json'] ?? '') as object,
  );
  expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
  return report;
}

describe('the packaged agent (npm run build:agent)', () => {
  let out = '';
  let executable = '';
  let bundle = '';
  // Outside the repository and alone in its folder: nothing beside it to read from disk.
  let alone = '';

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'hallpass-build-'));
    const built = await buildAgent({ outDir: join(out, 'agent') });
    bundle = built.bundle;
    alone = join(out, 'alone');
    await mkdir(alone);
    executable = join(alone, 'hallpass');
    await rename(built.executable ?? '', executable);
  }, 300_000);

  afterAll(async () => {
    if (out !== '') {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('embeds every file the code reads beside itself, and bakes in its V8 flags', async () => {
    const config = JSON.parse(await readFile(join(out, 'agent/sea-config.json'), 'utf8')) as {
      assets: Record<string, string>;
      execArgv: string[];
    };
    expect(Object.keys(config.assets).sort()).toEqual(await shippedFiles());
    expect(config.execArgv).toEqual(SEA_EXEC_ARGV);
  });

  it('`hallpass check --json` prints a valid report under the default policy (an SEA asset)', async () => {
    const result = await run(executable, ['check', '--json'], alone);
    const report = expectValidReport(result.stdout);
    expect(report.policy.name).toBe((await readDefaultPolicy()).name);
    expect(report.results.map((r) => r.checkId)).toEqual([
      'disk-encryption',
      'antivirus',
      'os-updates',
      'firewall',
      'screen-lock',
    ]);
    const statuses = report.results.map((r) => r.status);
    const expected = statuses.includes('fail') ? 1 : statuses.includes('unknown') ? 3 : 0;
    expect(result.code).toBe(expected);
  });

  it('`hallpass facts --json` prints device facts that match the schema', async () => {
    const result = await run(executable, ['facts', '--json'], alone);
    expect(result.code).toBe(0);
    expect(validate(DeviceFactsSchema, JSON.parse(result.stdout)).ok).toBe(true);
  });

  it('a bad command is still a usage error (exit 2)', async () => {
    const result = await run(executable, ['frobnicate'], alone);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command: frobnicate');
  });

  it('`hallpass service` enrols with a real server, runs a pass and delivers it (fetch, signing)', async () => {
    const engine = testEngines.find((e) => e.name === 'pglite');
    if (engine === undefined) {
      throw new Error('no PGlite engine');
    }
    // Every report kept raw (not only news), so the test sees the one the executable sent.
    const server = await startTestServer(engine, { reportStorage: 'all' });
    try {
      await server.app.listen({ host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${String((server.app.server.address() as AddressInfo).port)}`;
      const home = await agentHome({ serverUrl: url, enrolmentToken: server.token });
      const child = spawn(
        executable,
        ['service', '--config', home.configFile, '--state-dir', home.stateDir],
        { cwd: alone, stdio: 'ignore' },
      );
      try {
        const status = await waitFor(
          'the first report delivered',
          async () => {
            const s = await agentStatus(home);
            return s !== null && s.lastDeliveryAt !== null && s.outbox.reports === 0 ? s : null;
          },
          90_000,
        );
        expect(status.lastDeliveryError).toBeNull();
        const receipts = await server.db.query<{ n: string }>(
          'select count(*)::text as n from reports where device_id = $1',
          [status.deviceId ?? ''],
        );
        expect(Number(receipts[0]?.n)).toBe(1);
      } finally {
        await stopAgent(child);
        await rm(home.dir, { recursive: true, force: true });
      }
    } finally {
      await server.close();
    }
  }, 900_000);

  it('the bundle alone runs under node, reading the assets copied beside it', async () => {
    const result = await run(process.execPath, [bundle, 'check', '--json'], tmpdir());
    expect(expectValidReport(result.stdout).policy.name).toBe((await readDefaultPolicy()).name);
  });
});
