import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AlertMailer } from './alerts/email.ts';
import type { AlertContext } from './alerts/job.ts';
import { WebhookClient } from './alerts/webhook.ts';
import { WebhookNetworks } from './alerts/webhook-network.ts';
import { DeviceKeyCache } from './auth/device-keys.ts';
import { DEFAULT_HASH_GATE, HashGate } from './auth/hash-gate.ts';
import type { ServerConfig } from './config.ts';
import type { Database } from './db/db.ts';
import { clientErrorHandler, errorAnswer, NOT_FOUND, sendError } from './errors.ts';
import { dashboardRoutes } from './routes/dashboard/index.ts';
import { enrollRoutes } from './routes/api/v1/enroll.ts';
import { ictRoutes } from './routes/api/v1/ict/index.ts';
import { policyRoutes } from './routes/api/v1/policy.ts';
import { reportsRoutes } from './routes/api/v1/reports.ts';
import { aupRoutes } from './routes/api/v1/aup.ts';

/** What the app needs from outside: configuration, the database and a clock. */
export interface AppDependencies {
  config: ServerConfig;
  db: Database;
  now?: () => Date;
  /** pino options, or false for tests. */
  logger?: boolean | { level: string };
  /** Certificate and key (PEM) when the server terminates TLS itself. */
  https?: { cert: Buffer; key: Buffer } | null;
  /** This process's bound on concurrent sign-in password checks (tests pass a small one). */
  hashGate?: HashGate;
}

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
    config: ServerConfig;
    now: () => Date;
    /** Public keys of active devices, for signature checks. */
    deviceKeys: DeviceKeyCache;
    /** Bounds the password checks running and waiting in this process. */
    hashGate: HashGate;
    /** What the alert job and the test-alert route send with. */
    alerts: AlertContext;
  }
  interface FastifyRequest {
    /** The exact bytes of the body: signatures cover these, not a re-serialisation. */
    rawBody: Buffer | null;
  }
}

/** The Fastify instance with the TypeBox type provider every route uses. */
export type App = FastifyInstance & ReturnType<FastifyInstance['withTypeProvider']>;

/** Builds the server: plugins, then routes, then one error handler that hides 5xx details. */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    logger: deps.logger ?? { level: deps.config.logLevel },
    bodyLimit: deps.config.bodyLimitBytes,
    trustProxy: deps.config.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // The router's own errors (a malformed or over-long URL) go through the one error format.
    frameworkErrors: (error, request, reply) => {
      request.log.info({ code: error.code }, 'refused by the router');
      void sendError(request, reply, errorAnswer(error));
    },
    clientErrorHandler,
  })
    .setValidatorCompiler(TypeBoxValidatorCompiler)
    .withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('db', deps.db);
  app.decorate('config', deps.config);
  app.decorate('now', deps.now ?? (() => new Date()));
  app.decorate('deviceKeys', new DeviceKeyCache());
  app.decorate(
    'hashGate',
    deps.hashGate ?? new HashGate(DEFAULT_HASH_GATE.concurrency, DEFAULT_HASH_GATE.queueLimit),
  );
  const mailer = new AlertMailer(deps.config.smtpUrl, deps.config.alertEmailFrom);
  const webhooks = new WebhookClient(new WebhookNetworks(deps.config.webhookAllowedNetworks));
  app.decorate('alerts', {
    db: deps.db,
    mailer,
    webhooks,
    settings: {
      silentDays: deps.config.alertSilentDays,
      digestHourUtc: deps.config.alertDigestHourUtc,
    },
  });
  app.addHook('onClose', async () => {
    mailer.close();
    await webhooks.close();
  });
  app.decorateRequest('rawBody', null);
  app.decorateRequest('deviceId', null);

  // Keep the raw body: Content-Digest and the signature are over the bytes as sent.
  // Only JSON: Fastify's default text/plain parser would let a body through without its raw bytes
  // (a signed report sent as text/plain was answered digest-mismatch), so anything else is a 415.
  app.removeAllContentTypeParsers();
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) {
      done(null, undefined);
      return;
    }
    try {
      // Fatal on malformed UTF-8: Buffer#toString would silently turn it into U+FFFD.
      done(null, JSON.parse(utf8.decode(raw)) as unknown);
    } catch {
      const error = new Error('The body is not valid JSON in UTF-8.') as FastifyError;
      error.statusCode = 400;
      error.code = 'invalid-json';
      done(error, undefined);
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Hallpass server API',
        version: '1',
        description: 'Device API (signed with RFC 9421 HTTP Message Signatures) and ICT API.',
      },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = errorAnswer(error);
    if (answer.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else if (answer.body.error === 'invalid-data') {
      request.log.warn({ sqlState: error.code, err: error }, 'value refused by the database');
    }
    return sendError(request, reply, answer);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, NOT_FOUND));

  await app.register(enrollRoutes, { prefix: '/api/v1' });
  await app.register(policyRoutes, { prefix: '/api/v1' });
  await app.register(reportsRoutes, { prefix: '/api/v1' });
  await app.register(aupRoutes, { prefix: '/api/v1' });
  await app.register(ictRoutes, { prefix: '/api/v1/ict' });
  await app.register(dashboardRoutes);
  app.get('/healthz', { schema: { hide: true } }, async () => {
    await deps.db.query('select 1');
    return { ok: true, database: deps.db.engine };
  });
  return app;
}
