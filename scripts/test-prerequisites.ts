// `npm test` runs this first: are the Debian packages the suites need installed
// (test-prerequisites.list)? If not, as root with apt-get it installs them non-interactively,
// as CI does; otherwise it stops at once, naming the one command to run. Exit 0: ready.
// HALLPASS_TEST_PACKAGES_EXTRA adds names; HALLPASS_TEST_PACKAGES_INSTALL=never never installs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  decide,
  extraPackages,
  installCommand,
  missingPackages,
  neededPackages,
} from './test-prerequisites-lib.ts';

const say = (text: string) => process.stderr.write(`test-prerequisites: ${text}\n`);
const isRoot = process.getuid?.() === 0;
const apt = (args: string[]) =>
  spawnSync('apt-get', args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  }).status;

const needed = await neededPackages(extraPackages(process.env.HALLPASS_TEST_PACKAGES_EXTRA));
const decision = decide({
  missing: await missingPackages(needed),
  isRoot,
  hasAptGet: ['/usr/bin/apt-get', '/bin/apt-get'].some((path) => existsSync(path)),
  installAllowed: process.env.HALLPASS_TEST_PACKAGES_INSTALL !== 'never',
});

switch (decision.kind) {
  case 'ready':
    break;
  case 'not-debian':
    say(`not a Debian system (no dpkg-query): the tests need ${needed.join(', ')} or equivalents`);
    break;
  case 'stop':
    say(`the tests need Debian packages that are not installed: ${decision.packages.join(' ')}`);
    say(`run:  ${decision.command}`);
    process.exitCode = 1;
    break;
  case 'install': {
    say(`installing what the tests need: ${decision.packages.join(' ')}`);
    const ok =
      apt(['update', '-qq']) === 0 &&
      apt(['install', '-y', '-qq', '--no-install-recommends', ...decision.packages]) === 0;
    // Ask dpkg again either way: a failed apt-get may have installed some of them.
    const still = (await missingPackages(decision.packages)) ?? decision.packages;
    if (!ok || still.length > 0) {
      const left = still.length > 0 ? still : decision.packages;
      say(`could not install ${left.join(' ')}`);
      say(`run:  ${installCommand(left, true)}`);
      process.exitCode = 1;
    }
    break;
  }
}
