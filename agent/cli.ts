#!/usr/bin/env node
// The `hallpass` command. Thin: parses arguments and hands over to agent/commands.
import { parseArgs } from 'node:util';
import packageJson from '../package.json' with { type: 'json' };
import { resolve } from 'node:path';
import { checkCommand } from './commands/check.ts';
import { enrolCommand, EnrolRefused } from './commands/enroll.ts';
import { serviceCommand, type AgentCommandOptions } from './commands/service.ts';
import { ServiceUnavailable, statusCommand } from './commands/status.ts';
import { AgentConfigError, PLATFORM_PATHS } from './core/config/agent-config.ts';
import { EnrolmentError } from './core/enrolment.ts';
import { CredentialError } from './core/secrets/index.ts';
import { factsCommand } from './commands/facts.ts';
import { paintFor } from './commands/table.ts';
import { realHost } from './core/host.ts';
import { osFromPlatform } from './core/platform.ts';
import { PolicyError } from './core/policy/policy-file.ts';
import { UntrustedStateError } from './core/trusted-path.ts';

const USAGE = `Usage: hallpass <command> [options]

Commands:
  check [--json] [--policy FILE]   run every compliance check on this device
  facts [--json]                   print the device facts (inventory, hashed machine id)
  enroll --server URL --token T    enrol this device (once; the token is then spent)
  enroll --replace                 re-enrol this device with a new key, proved by its current key
  enroll --replace --device ID --server URL --token T
                                   replace device ID after ICT allowed its re-enrolment (reimage)
  service                          run the agent service in the foreground (as root/SYSTEM)
  status [--json]                  ask the running service for its status

Service options: --config FILE (instead of the OS's agent.json), --state-dir DIR, --ipc PATH.
status reads no config file: it asks the socket at the OS's default path, or --ipc PATH.

Exit status of check: 0 all passed (warnings allowed), 1 a check failed,
3 none failed but some could not tell (unknown), 2 bad usage or a bad policy file.
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      policy: { type: 'string' },
      server: { type: 'string' },
      token: { type: 'string' },
      replace: { type: 'boolean', default: false },
      device: { type: 'string' },
      config: { type: 'string' },
      'state-dir': { type: 'string' },
      ipc: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (rest.length > 0) {
    throw new UsageError(`unexpected argument: ${rest.join(' ')}`);
  }
  const os = osFromPlatform(process.platform);
  if (os === null) {
    throw new UsageError(`${process.platform} is not a supported operating system`);
  }
  const write = (text: string) => process.stdout.write(text);
  const agent: AgentCommandOptions = {
    os,
    host: realHost,
    agentVersion: packageJson.version,
    configFile: values.config,
    overrides: {
      ...(values['state-dir'] === undefined ? {} : { stateDir: resolve(values['state-dir']) }),
      ...(values.ipc === undefined ? {} : { ipcPath: values.ipc }),
    },
    write,
  };
  switch (command) {
    case 'enroll':
      return enrolCommand({
        ...agent,
        serverUrl: values.server,
        token: values.token,
        replace: values.replace,
        device: values.device,
      });
    case 'service':
      return serviceCommand(agent);
    case 'status':
      // Never the config file: it may hold the enrolment token and be readable by root only.
      return statusCommand({
        os,
        ipcPath: values.ipc ?? PLATFORM_PATHS[os].ipcPath,
        json: values.json,
        write,
      });
    case 'check':
      return checkCommand({
        os,
        host: realHost,
        json: values.json,
        policyPath: values.policy,
        agentVersion: packageJson.version,
        paint: paintFor(process.stdout),
        write,
      });
    case 'facts':
      return factsCommand({
        os,
        json: values.json,
        agentVersion: packageJson.version,
        write,
        warn: (text) => process.stderr.write(text),
      });
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (
      error instanceof CredentialError ||
      error instanceof EnrolmentError ||
      error instanceof EnrolRefused ||
      error instanceof AgentConfigError ||
      error instanceof UntrustedStateError ||
      error instanceof ServiceUnavailable
    ) {
      // Conditions the operator must fix (EX_CONFIG): a service manager should not just restart.
      process.stderr.write(`hallpass: ${error.message}\n`);
      process.exitCode = 78;
      return;
    }
    if (error instanceof PolicyError || error instanceof UsageError) {
      process.stderr.write(`hallpass: ${error.message}\n`);
    } else if (
      error instanceof TypeError &&
      'code' in error &&
      String(error.code).startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`hallpass: ${error.message}\n\n${USAGE}`);
    } else {
      process.stderr.write(
        `hallpass: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 70;
      return;
    }
    process.exitCode = 2;
  },
);
