import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AssetCache, type Asset } from './assets.ts';

/**
 * No inline script or style, nothing from elsewhere, never framed: device data shown on these
 * pages is untrusted, so even a rendering bug must not be able to run script.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Page URL → its HTML file in ui/dashboard. Data comes from /api/v1/ict, fetched by scripts. */
const PAGES: Record<string, string> = {
  '/': 'overview.html',
  '/sign-in': 'sign-in.html',
  '/devices': 'devices.html',
};

const notFound = (reply: FastifyReply) =>
  reply.status(404).send({ error: 'not-found', message: 'No such page or file.' });

/** Sends an asset, answering 304 when the browser already holds this version. */
function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  void reply.header('etag', asset.etag);
  if (request.headers['if-none-match'] === asset.etag) {
    return reply.status(304).send();
  }
  return reply.type(asset.contentType).send(asset.body);
}

/** The ICT dashboard pages (ui/dashboard), served by the server. */
export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const assets = new AssetCache();

  // This plugin is encapsulated, so these headers go on dashboard responses only.
  app.addHook('onSend', async (_request, reply) => {
    void reply.headers({
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      'x-frame-options': 'DENY',
      'cache-control': 'no-cache',
    });
  });

  const page = (file: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    const asset = await assets.get(file);
    if (asset === null) {
      throw new Error(`ui/dashboard/${file} is missing`);
    }
    return sendAsset(request, reply, asset);
  };
  for (const [url, file] of Object.entries(PAGES)) {
    app.get(url, { schema: { hide: true } }, page(file));
  }
  const devicePage = page('device.html');
  app.get<{ Params: { id: string } }>(
    '/devices/:id',
    { schema: { hide: true } },
    async (request, reply) =>
      UUID.test(request.params.id) ? devicePage(request, reply) : notFound(reply),
  );

  // Scripts, styles and the icon. Pages are served at their own URLs only, never as files.
  app.get<{ Params: { file: string } }>(
    '/dashboard/:file',
    { schema: { hide: true } },
    async (request, reply) => {
      const { file } = request.params;
      const asset = file.endsWith('.html') ? null : await assets.get(file);
      return asset === null ? notFound(reply) : sendAsset(request, reply, asset);
    },
  );
};
