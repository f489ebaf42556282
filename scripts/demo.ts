// `npm run demo`: the main job on this machine. Until the server lands it runs the compliance
// check pass here, for real, and prints the device facts and the results table.
import { spawnSync } from 'node:child_process';

const cli = new URL('../agent/cli.ts', import.meta.url).pathname;
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });

process.stdout.write(
  'Hallpass demo: the agent checks this machine.\n\n== Device facts (hallpass facts)\n',
);
run(['facts']);
process.stdout.write('\n== Compliance checks (hallpass check), against the default policy\n');
const check = run(['check']);
process.stdout.write(
  `\nExit status ${String(check.status)} (0 all pass, 1 a check failed, 3 some unknown).\n` +
    'Try also: npx hallpass check --json, and npx hallpass check --policy agent/core/policy/example-policy.yaml\n',
);
