import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { sendError, NOT_FOUND, type ErrorAnswer } from '../../errors.ts';
import { AssetCache, type Asset } from './assets.ts';
import { DASHBOARD_HEADERS } from './headers.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Page URL → its HTML file in ui/dashboard. Data comes from /api/v1/ict, fetched by scripts. */
const PAGES: Record<string, string> = {
  '/': 'overview.html',
  '/sign-in': 'sign-in.html',
  '/devices': 'devices.html',
  '/usb': 'usb.html',
  '/aup': 'aup.html',
  '/chase': 'chase.html',
  '/policies': 'policies.html',
  '/tokens': 'tokens.html',
  '/audit': 'audit.html',
  '/people': 'people.html',
  '/alerts': 'alerts.html',
  '/accounts': 'accounts.html',
  '/schools': 'schools.html',
};

const notFound = (request: FastifyRequest, reply: FastifyReply) =>
  sendError(request, reply, NOT_FOUND);

/** A page whose id names nothing, said so in words (the generic 404 names no cause). */
const noSuch = (message: string): ErrorAnswer => ({
  status: 404,
  body: { error: 'not-found', message },
});
const NOT_A_SCHOOL_ID = noSuch('This address does not name a school.');
const UNKNOWN_SCHOOL = noSuch('There is no school with this id. It may have been removed.');
const NOT_A_GROUP_ID = noSuch('This address does not name a device group.');
const UNKNOWN_GROUP = noSuch('There is no device group with this id. It may have been removed.');

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
    void reply.headers(DASHBOARD_HEADERS);
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
      UUID.test(request.params.id) ? devicePage(request, reply) : notFound(request, reply),
  );

  // Schools are few and their ids come from the overview's links, so the page itself answers 404
  // for an unknown one: a stale bookmark gets an error page, not an empty school. Anyone may ask,
  // but all it tells is whether a random UUID names a school; the figures still need a session.
  const schoolPage = page('school.html');
  app.get<{ Params: { id: string } }>(
    '/schools/:id',
    { schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params;
      if (!UUID.test(id)) {
        return sendError(request, reply, NOT_A_SCHOOL_ID);
      }
      const known = await app.db.query('select 1 from schools where id = $1', [id]);
      return known.length === 0
        ? sendError(request, reply, UNKNOWN_SCHOOL)
        : schoolPage(request, reply);
    },
  );

  // A device group's policy page, likewise: an unknown group is an error page in words.
  const groupPolicyPage = page('group-policy.html');
  app.get<{ Params: { id: string } }>(
    '/policies/:id',
    { schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params;
      if (!UUID.test(id)) {
        return sendError(request, reply, NOT_A_GROUP_ID);
      }
      const known = await app.db.query('select 1 from device_groups where id = $1', [id]);
      return known.length === 0
        ? sendError(request, reply, UNKNOWN_GROUP)
        : groupPolicyPage(request, reply);
    },
  );

  // Scripts, styles and the icon. Pages are served at their own URLs only, never as files.
  app.get<{ Params: { file: string } }>(
    '/dashboard/:file',
    { schema: { hide: true } },
    async (request, reply) => {
      const { file } = request.params;
      const asset = file.endsWith('.html') ? null : await assets.get(file);
      return asset === null ? notFound(request, reply) : sendAsset(request, reply, asset);
    },
  );
};
