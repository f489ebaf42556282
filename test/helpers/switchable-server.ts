// "The trust's server" going away and coming back on the same address, for tests of a device
// that must queue and deliver later. The address is held by this listener for the whole test, so
// no other process can take the port while the server is away (closing a server and listening
// again on its port can fail with EADDRINUSE on a busy machine). While down it cuts every
// connection, as a refused or reset connection would be to a device; while up it hands each
// request to the serving app's own routing.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** A held address whose server can be swapped in and out. */
export interface SwitchableServer {
  url: string;
  /** Serves with `app` (made ready first), or goes down with null. */
  serve(app: FastifyInstance | null): Promise<void>;
  close(): Promise<void>;
}

export async function startSwitchableServer(): Promise<SwitchableServer> {
  let serving: FastifyInstance | null = null;
  const front = createServer((request, response) => {
    if (serving === null) {
      request.socket.destroy();
    } else {
      serving.routing(request, response);
    }
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const port = (front.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    async serve(app) {
      if (app !== null) {
        await app.ready();
      }
      serving = app;
      if (app === null) {
        front.closeAllConnections();
      }
    },
    async close() {
      serving = null;
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
    },
  };
}
