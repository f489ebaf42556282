// `npm run demo`: the main job, for real, on this machine. Starts the server on PGlite in
// .demo/server, sets up a school, a device group, the example policy, an admin and an
// enrolment token; then starts the agent service (state in .demo/agent, not system paths),
// which enrols itself, runs every check and reports. Prints where to look. Ctrl-C stops all.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultServerConfig } from '../server/config.ts';
import { startServer } from '../server/main.ts';
import { ensureDeviceGroup, ensureSchool } from '../server/store/organisation.ts';
import { uploadPolicy } from '../server/store/policies.ts';
import { createEnrolmentToken } from '../server/store/tokens.ts';
import { createUser } from '../server/store/users.ts';
import { readPolicyFile } from '../agent/core/policy/policy-file.ts';

const root = new URL('../', import.meta.url).pathname;
const demo = join(root, '.demo');
const say = (text: string) => process.stdout.write(text + '\n');

await rm(demo, { recursive: true, force: true });
await mkdir(join(demo, 'agent'), { recursive: true, mode: 0o700 });

say('Hallpass demo: starting the server on embedded PGlite (.demo/server)…');
const server = await startServer({
  ...defaultServerConfig,
  port: Number(process.env.HALLPASS_DEMO_PORT ?? 8080),
  dataDir: join(demo, 'server'),
  logLevel: 'warn',
});
const school = await ensureSchool(server.db, 'Northgate Primary');
const group = await ensureDeviceGroup(server.db, 'Pupil laptops');
const policy = await readPolicyFile(join(root, 'agent/core/policy/example-policy.yaml'));
await server.db.transaction((tx) =>
  uploadPolicy(tx, { groupId: group.id, policy, uploadedBy: null }),
);
const password = randomBytes(12).toString('base64url');
await createUser(server.db, { username: 'ict.admin', password, role: 'admin' });
const { token } = await createEnrolmentToken(server.db, {
  schoolId: school.id,
  groupId: group.id,
  label: 'demo',
  expiresAt: new Date(Date.now() + 86_400_000),
  maxUses: 5,
  createdBy: null,
});

const agentConfig = join(demo, 'agent.json');
await writeFile(
  agentConfig,
  JSON.stringify(
    {
      serverUrl: server.url,
      enrolmentToken: token,
      ipcPath: join(demo, 'agent.sock'),
      // The demo runs on the developer's own machine: leave its USB authorisation alone.
      usbGuard: false,
    },
    null,
    2,
  ),
  // It holds the token: the service refuses a config file with a token that others can read.
  { mode: 0o600 },
);
say(`Server at ${server.url}. Starting the agent service (it enrols with a one-off token)…`);
const agent = spawn(
  process.execPath,
  [
    join(root, 'agent/cli.ts'),
    'service',
    '--config',
    agentConfig,
    '--state-dir',
    join(demo, 'agent'),
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const agentLog: string[] = [];
agent.stdout.on('data', (chunk: Buffer) => {
  agentLog.push(chunk.toString());
});

const stopAll = async (code: number) => {
  // The agent may have gone already (a signal that reached both at once): waiting for its exit
  // then would wait for ever and leave the server running.
  if (agent.exitCode === null && agent.signalCode === null) {
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('exit', resolve));
  }
  await server.stop();
  process.exit(code);
};
agent.once('exit', (code) => {
  if (code !== 0 && code !== null) {
    say(`The agent service stopped unexpectedly (exit ${code}). Its log:\n${agentLog.join('')}`);
    void server.stop().then(() => process.exit(1));
  }
});
process.once('SIGINT', () => void stopAll(0));
process.once('SIGTERM', () => void stopAll(0));

// Wait until the first report has landed on the server.
type Row = { hostname: string; overall_status: string | null; id: string };
let device: Row | undefined;
for (let waited = 0; device === undefined; waited += 500) {
  if (waited > 180_000) {
    say(`No report after 3 minutes. Agent log:\n${agentLog.join('')}`);
    await stopAll(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rows = await server.db.query<Row>(
    'select id, hostname, overall_status from devices where last_report_at is not null',
  );
  device = rows[0];
}
const checks = await server.db.query<{ check_id: string; status: string; summary: string }>(
  'select check_id, status, summary from check_states where device_id = $1 order by check_id',
  [device.id],
);
say('');
say('The first report from this machine has landed. The server now holds:');
say(
  `  device ${device.hostname} (${device.id}), overall ${String(device.overall_status).toUpperCase()}`,
);
for (const c of checks) {
  say(`    ${c.status.toUpperCase().padEnd(8)} ${c.check_id.padEnd(16)} ${c.summary}`);
}
say('');
say(`ICT dashboard:  ${server.url}/`);
say(`Sign in as:     ict.admin   password: ${password}`);
say(`Device page:    ${server.url}/devices/${device.id}`);
say(`Agent status:   npx hallpass status --ipc ${join(demo, 'agent.sock')}`);
say('The agent keeps checking and reporting on the policy interval. Ctrl-C stops everything.');
