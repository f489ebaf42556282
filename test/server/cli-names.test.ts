// The real `hallpass-server` command refuses the names the API refuses (server/names.ts).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = new URL('../../server/cli.ts', import.meta.url).pathname;
const example = new URL('../../agent/core/policy/example-policy.yaml', import.meta.url).pathname;

function run(args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('hallpass-server names', () => {
  it('refuses a school, group, token label or policy name with an invisible control, exit 2, writing nothing', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'hallpass-cli-names-')), 'data');
    const at = ['--data-dir', dir];
    const school = await run([...at, 'school', 'create', 'Northgate \u202Eyramirp']);
    expect(school.code).toBe(2);
    expect(school.stderr).toBe(
      'hallpass-server: the name holds an invisible text-direction control (U+202E): type the name without it\n',
    );
    const group = await run([...at, 'group', 'create', 'Pupil\u200Blaptops']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('U+200B');
    expect((await run([...at, 'school', 'create', 'Northgate'])).code).toBe(0);
    expect((await run([...at, 'group', 'create', 'Laptops'])).code).toBe(0);
    const token = await run([
      ...at,
      'token',
      'create',
      '--school',
      'Northgate',
      '--group',
      'Laptops',
      '--label',
      '\uFEFFspring intake',
    ]);
    expect(token.code).toBe(2);
    expect(token.stderr).toContain('--label holds an invisible character (U+FEFF)');
    const policyFile = join(dir, '..', 'policy.yaml');
    await writeFile(
      policyFile,
      (await readFile(example, 'utf8')).replace(/^name: .*$/m, 'name: "Laptops \u2067x"'),
    );
    const policy = await run([...at, 'policy', 'upload', '--group', 'Laptops', policyFile]);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toContain('U+2067');
    expect((await run([...at, 'school', 'list'])).stdout).not.toContain('\u202E');
    expect((await run([...at, 'group', 'list'])).stdout).not.toContain('\u200B');
    expect((await run([...at, 'token', 'list'])).stdout).toBe('');
  }, 600_000);
});
