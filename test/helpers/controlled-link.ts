// The network between a device and the real server, played by an HTTP relay the test controls.
// Every request passes through unchanged, except that each report batch (POST /api/v1/reports)
// first goes to the test's `onBatch`, which may read the device's outbox before anything moves,
// and may hold the batch — before the server sees it, or after the server stored it but before
// the device hears so — while the test kills the device. The relay knows at every moment
// whether a batch is in flight and where, which is how a test knows its kill landed in a send.
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where a report batch is: held before the server, at the server, or answered but held back. */
export type BatchStage = 'before-server' | 'at-server' | 'after-server';

/** What to do with one batch: pass it on, or call `hold` at that stage and drop it after. */
export interface BatchPlan {
  holdAt: 'before-server' | 'after-server' | null;
  /** Runs while the batch is held (the test kills the device here); the batch is then dropped. */
  hold?: () => Promise<void>;
}

/** A running relay. */
export interface ControlledLink {
  url: string;
  /** Stages of the report batches in flight right now, oldest first. */
  inFlight(): BatchStage[];
  close(): Promise<void>;
}

const BATCH_PATH = '/api/v1/reports';

const readBody = (stream: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    stream.on('error', reject);
  });

/** Starts a relay to `upstream`; `onBatch` sees each batch's body and decides its plan. */
export async function startControlledLink(
  upstream: string,
  onBatch: (body: Buffer) => Promise<BatchPlan>,
): Promise<ControlledLink> {
  const flights = new Set<{ stage: BatchStage }>();
  const server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const isBatch = request.method === 'POST' && request.url === BATCH_PATH;
      const flight = { stage: 'before-server' as BatchStage };
      if (isBatch) {
        flights.add(flight);
      }
      try {
        const plan = isBatch ? await onBatch(body) : { holdAt: null };
        if (plan.holdAt === 'before-server') {
          await plan.hold?.();
          response.destroy();
          return;
        }
        flight.stage = 'at-server';
        const answer = await new Promise<{
          status: number;
          headers: IncomingMessage['headers'];
          body: Buffer;
        }>((resolve, reject) => {
          const out = httpRequest(
            `${upstream}${request.url ?? '/'}`,
            { method: request.method, headers: request.headers },
            (reply) => {
              readBody(reply).then((replyBody) => {
                resolve({
                  status: reply.statusCode ?? 502,
                  headers: reply.headers,
                  body: replyBody,
                });
              }, reject);
            },
          );
          out.on('error', reject);
          out.end(body);
        });
        flight.stage = 'after-server';
        if (plan.holdAt === 'after-server') {
          await plan.hold?.();
          response.destroy();
          return;
        }
        response.writeHead(answer.status, answer.headers);
        response.end(answer.body);
      } catch {
        response.destroy();
      } finally {
        flights.delete(flight);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    inFlight: () => [...flights].map((f) => f.stage),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
