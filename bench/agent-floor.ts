// The floor under any agent service on this runtime: a process that does only what every agent
// must and nothing of Hallpass (no checks, schemas, logger or inventory), measured beside the
// service in the idle window of service.bench.ts. It listens on a Unix socket (the tray's IPC),
// runs a command (a probe), writes a file and fsyncs it (the outbox), signs a JSON body with a
// P-256 key (the device credential) and POSTs it to the server with node:http, with node:https
// loaded as the agent's transport loads it; then it idles. The bench bundles it with esbuild and
// runs it with the executable's V8 flags: `node <flags> agent-floor.cjs <serverUrl> <socket>`.
// It prints `ready` once all of that is done.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { request } from 'node:http';
import 'node:https';
import { createServer } from 'node:net';

const [serverUrl, socketPath] = process.argv.slice(2);
if (serverUrl === undefined || socketPath === undefined) {
  throw new Error('usage: agent-floor <serverUrl> <socketPath>');
}

await rm(socketPath, { force: true });
const ipc = createServer((socket) => socket.end('{}\n'));
await new Promise<void>((resolve) => ipc.listen(socketPath, resolve));

const uname = await new Promise<string>((resolve, reject) => {
  execFile('uname', ['-a'], (error, stdout) => {
    if (error) {
      reject(new Error(`uname: ${error.message}`));
    } else {
      resolve(stdout);
    }
  });
});

const body = JSON.stringify({ id: randomUUID(), at: new Date().toISOString(), uname });
const file = `${socketPath}.json`;
const handle = await open(`${file}.tmp`, 'w', 0o600);
await handle.writeFile(body);
await handle.sync();
await handle.close();
await rename(`${file}.tmp`, file);

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signature = sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'ieee-p1363' });
// Any answer will do (the server says 404): what is priced is the client side of a request.
await new Promise<void>((resolve, reject) => {
  const url = new URL('/healthz', serverUrl);
  const req = request(
    url,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        signature: signature.toString('base64'),
      },
    },
    (res) => {
      res.resume();
      res.once('end', resolve);
    },
  );
  req.once('error', reject);
  req.end(body);
});

process.stdout.write('ready\n');
setInterval(() => undefined, 60_000);
