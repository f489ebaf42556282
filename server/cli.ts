#!/usr/bin/env node
// `hallpass-server`: runs the server, and administers it from the command line. Admin commands
// open the database directly. With the embedded PGlite only one process may open the folder at a
// time, so while the server runs a command is refused at once (DatabaseInUseError, exit 2) rather
// than writing to a copy the server never sees: stop the server first, or use the ICT API.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { describeProblems, validatePolicy } from '../shared/index.ts';
import { ConfigError, databaseLocation, loadServerConfig, type ServerConfig } from './config.ts';
import type { Database } from './db/db.ts';
import { openDatabase } from './db/open-database.ts';
import { nameProblem } from './names.ts';
import { DatabaseInUseError } from './db/pglite-lock.ts';
import { startServer, stopOnSignals } from './main.ts';
import {
  ensureDeviceGroup,
  ensureSchool,
  findNamed,
  listDeviceGroups,
  listSchools,
} from './store/organisation.ts';
import { uploadPolicy } from './store/policies.ts';
import { createEnrolmentToken, listEnrolmentTokens, revokeEnrolmentToken } from './store/tokens.ts';
import { createUser, UserError } from './store/users.ts';

const USAGE = `Usage: hallpass-server [command] [options]

Commands:
  serve                                   run the server (the default)
  admin create USERNAME [--role admin|viewer]   create an ICT account; the password comes from
                                          HALLPASS_NEW_PASSWORD, or a strong one is generated and printed once
  school create NAME | school list
  group create NAME | group list
  token create --school S --group G [--uses N] [--days D] [--label L]
  token list | token revoke ID
  policy upload --group G FILE            a policy in YAML or JSON, validated against the schema

Options (also from the environment and --config FILE, see README):
  --host H --port P --data-dir DIR --database-url URL --config FILE
`;

class UsageError extends Error {}

/** Refuses a name an admin typed that names.ts does not accept, before anything is opened. */
function checkName(what: string, text: string): void {
  const problem = nameProblem(what, text);
  if (problem !== null) {
    throw new UsageError(problem);
  }
}

const out = (text: string) => process.stdout.write(text + '\n');

async function withDatabase<T>(
  config: ServerConfig,
  work: (db: Database) => Promise<T>,
): Promise<T> {
  const db = await openDatabase(databaseLocation(config));
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

async function named(
  db: Database,
  table: 'schools' | 'device_groups',
  value: string | undefined,
  flag: string,
) {
  if (value === undefined) {
    throw new UsageError(`${flag} is required`);
  }
  const row = await findNamed(db, table, value);
  if (row === null) {
    throw new UsageError(`no ${table === 'schools' ? 'school' : 'device group'} called ${value}`);
  }
  return row;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'database-url': { type: 'string' },
      config: { type: 'string' },
      role: { type: 'string', default: 'admin' },
      school: { type: 'string' },
      group: { type: 'string' },
      uses: { type: 'string', default: '500' },
      days: { type: 'string', default: '30' },
      label: { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = await loadServerConfig(process.env, {
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values.port === undefined ? {} : { port: values.port }),
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
    ...(values['database-url'] === undefined ? {} : { databaseUrl: values['database-url'] }),
    ...(values.config === undefined ? {} : { config: values.config }),
  });
  const [command = 'serve', sub, ...rest] = positionals;
  const key = `${command} ${sub ?? ''}`.trim();
  switch (key) {
    case 'serve': {
      const server = await startServer(config);
      stopOnSignals(server);
      server.app.log.info(
        { url: server.url, database: server.db.engine },
        'hallpass-server listening',
      );
      return -1;
    }
    case 'admin create': {
      const username = rest[0];
      if (username === undefined || (values.role !== 'admin' && values.role !== 'viewer')) {
        throw new UsageError('admin create USERNAME [--role admin|viewer]');
      }
      const role = values.role;
      const given = process.env.HALLPASS_NEW_PASSWORD;
      const password = given ?? randomBytes(18).toString('base64url');
      await withDatabase(config, (db) => createUser(db, { username, password, role }));
      out(
        `created ${role} ${username}` +
          (given === undefined ? `\npassword (shown once): ${password}` : ''),
      );
      return 0;
    }
    case 'school create':
    case 'group create': {
      const name = rest.join(' ').trim();
      if (name === '') {
        throw new UsageError(`${key} NAME`);
      }
      checkName('the name', name);
      const row = await withDatabase(config, (db) =>
        command === 'school' ? ensureSchool(db, name) : ensureDeviceGroup(db, name),
      );
      out(`${row.id}  ${row.name}`);
      return 0;
    }
    case 'school list':
    case 'group list': {
      const rows = await withDatabase(config, (db) =>
        command === 'school' ? listSchools(db) : listDeviceGroups(db),
      );
      rows.forEach((r) => {
        out(`${r.id}  ${r.name}`);
      });
      return 0;
    }
    case 'token create': {
      const uses = Number(values.uses);
      const days = Number(values.days);
      if (
        !Number.isInteger(uses) ||
        uses < 1 ||
        !Number.isInteger(days) ||
        days < 1 ||
        days > 365
      ) {
        throw new UsageError('--uses must be a whole number ≥ 1 and --days 1–365');
      }
      checkName('--label', values.label);
      const token = await withDatabase(config, async (db) => {
        const school = await named(db, 'schools', values.school, '--school');
        const group = await named(db, 'device_groups', values.group, '--group');
        return createEnrolmentToken(db, {
          schoolId: school.id,
          groupId: group.id,
          label: values.label,
          expiresAt: new Date(Date.now() + days * 86_400_000),
          maxUses: uses,
          createdBy: null,
        });
      });
      out(`token ${token.id} (shown once): ${token.token}`);
      return 0;
    }
    case 'token list': {
      const tokens = await withDatabase(config, listEnrolmentTokens);
      tokens.forEach((t) => {
        out(
          `${t.id}  ${t.school} / ${t.group}  ${t.uses}/${t.maxUses} uses  expires ${t.expiresAt}${t.revokedAt ? '  REVOKED' : ''}  ${t.label}`,
        );
      });
      return 0;
    }
    case 'token revoke': {
      const id = rest[0] ?? '';
      const done =
        /^[0-9a-f-]{36}$/i.test(id) &&
        (await withDatabase(config, (db) => revokeEnrolmentToken(db, id)));
      if (!done) {
        throw new UsageError(`no token with id ${id}`);
      }
      out(`revoked ${id}`);
      return 0;
    }
    case 'policy upload': {
      const file = rest[0];
      if (file === undefined) {
        throw new UsageError('policy upload --group G FILE');
      }
      const document: unknown = parseYaml(await readFile(file, 'utf8'), { maxAliasCount: 100 });
      const checked = validatePolicy(document);
      if (!checked.ok) {
        throw new UsageError(`${file}: invalid policy: ${describeProblems(checked.problems)}`);
      }
      checkName(`${file}: the policy's name`, checked.value.name);
      const stored = await withDatabase(config, async (db) => {
        const group = await named(db, 'device_groups', values.group, '--group');
        return db.transaction((tx) =>
          uploadPolicy(tx, { groupId: group.id, policy: checked.value, uploadedBy: null }),
        );
      });
      out(`uploaded ${checked.value.name} as version ${stored.version}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: ${key}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) {
      process.exitCode = code;
    }
  },
  (error: unknown) => {
    if (
      error instanceof UsageError ||
      error instanceof ConfigError ||
      error instanceof UserError ||
      error instanceof DatabaseInUseError
    ) {
      process.stderr.write(`hallpass-server: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(
        `hallpass-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
