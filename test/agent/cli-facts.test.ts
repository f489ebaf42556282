import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DeviceFactsSchema, validate } from '../../shared/index.ts';
import { runCli } from '../helpers/run-cli.ts';

describe('hallpass facts', () => {
  it('--json prints device facts that match the schema and this machine', async () => {
    const run = await runCli(['facts', '--json']);
    expect(run.code).toBe(0);
    const facts: unknown = JSON.parse(run.stdout);
    expect(validate(DeviceFactsSchema, facts).ok).toBe(true);
    expect(facts).toMatchObject({ hostname: hostname(), os: { name: 'linux' } });
  });

  it('prints a readable table by default', async () => {
    const run = await runCli(['facts']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Hostname\\s+${hostname()}$`, 'm'));
    expect(run.stdout).toMatch(/^Machine id \(hashed\)\s+[0-9a-f]{64}$/m);
  });
});

describe('hallpass status', () => {
  it('says plainly when the service is not running (exit 78)', async () => {
    const run = await runCli([
      'status',
      '--ipc',
      '/nonexistent/hallpass.sock',
      '--config',
      '/nonexistent/agent.json',
    ]);
    expect(run.code).toBe(78);
    expect(run.stderr).toContain('the Hallpass service is not running');
  });
});

describe('hallpass usage', () => {
  it('an unknown command is a usage error, exit 2', async () => {
    const run = await runCli(['frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('hallpass: unknown command: frobnicate');
  });

  it('an unknown option is a usage error, exit 2', async () => {
    const run = await runCli(['check', '--colour']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Unknown option '--colour'/);
  });
});
