import { readFile } from 'node:fs/promises';
import { Type, type Static } from 'typebox';
import { describeProblems, validate } from '../shared/index.ts';
import type { DatabaseLocation } from './db/db.ts';
import { WebhookNetworks } from './alerts/webhook-network.ts';

/** Server settings. Sources, strongest first: command-line flags, environment, config file, defaults. */
export const ServerConfigSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    databaseUrl: Type.Union([Type.String({ pattern: '^postgres(ql)?://' }), Type.Null()]),
    dataDir: Type.String({ minLength: 1 }),
    tlsCertFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
    tlsKeyFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
    /** Plain HTTP on a non-loopback address, for a TLS-terminating proxy in front. */
    allowPlainHttp: Type.Boolean(),
    trustProxy: Type.Boolean(),
    maxClockSkewSeconds: Type.Integer({ minimum: 30, maximum: 3600 }),
    reportRetentionDays: Type.Integer({ minimum: 1, maximum: 3650 }),
    /**
     * Raw reports kept: `news` (default) only those that change a check's status or the device's
     * facts; `all` every report, for a trust that must audit each one (about 96 a device a day).
     */
    reportStorage: Type.Union([Type.Literal('news'), Type.Literal('all')]),
    /** Check history and events older than this are deleted (the AUP register is kept). */
    historyRetentionDays: Type.Integer({ minimum: 30, maximum: 36500 }),
    sessionHours: Type.Integer({ minimum: 1, maximum: 168 }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
    /** The most batches in flight per instance; the adaptive limit stays at or below it. */
    ingestConcurrency: Type.Integer({ minimum: 1, maximum: 10000 }),
    /** Batches that may wait for a place, and for how long, before a 429 with Retry-After. */
    ingestQueueLength: Type.Integer({ minimum: 0, maximum: 100000 }),
    ingestQueueWaitMs: Type.Integer({ minimum: 0, maximum: 25000 }),
    /** SMTP for email alerts, e.g. `smtps://user:pass@mail.example.org` (null: no email alerts). */
    smtpUrl: Type.Union([Type.String({ pattern: '^smtps?://' }), Type.Null()]),
    /**
     * Internal networks webhooks may reach, comma-separated CIDRs (e.g. `10.20.0.0/16`); every
     * other private, loopback or link-local address is refused (server/alerts/webhook-network.ts).
     */
    webhookAllowedNetworks: Type.String({ maxLength: 4000 }),
    /** The From address of alert emails. */
    alertEmailFrom: Type.String({ minLength: 3, maxLength: 300 }),
    /** The UTC hour from which each day's alert digest is sent. */
    alertDigestHourUtc: Type.Integer({ minimum: 0, maximum: 23 }),
    /** Devices not heard from for this many days are an alert (once per silence). */
    alertSilentDays: Type.Integer({ minimum: 1, maximum: 365 }),
    logLevel: Type.Union([
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ]),
  },
  { additionalProperties: false },
);
export type ServerConfig = Static<typeof ServerConfigSchema>;

/** A configuration problem, naming the key and where it came from. */
export class ConfigError extends Error {}

/** Defaults: loopback, embedded PGlite in ./.hallpass-server/data. */
export const defaultServerConfig: ServerConfig = {
  host: '127.0.0.1',
  port: 8080,
  databaseUrl: null,
  dataDir: '.hallpass-server/data',
  tlsCertFile: null,
  tlsKeyFile: null,
  allowPlainHttp: false,
  trustProxy: false,
  maxClockSkewSeconds: 300,
  reportRetentionDays: 30,
  reportStorage: 'news',
  // 13 months and a bit: a school year against the one before, as the trends keep.
  historyRetentionDays: 400,
  sessionHours: 12,
  bodyLimitBytes: 1024 * 1024,
  ingestConcurrency: 64,
  ingestQueueLength: 6000,
  ingestQueueWaitMs: 20_000,
  smtpUrl: null,
  webhookAllowedNetworks: '',
  alertEmailFrom: 'Hallpass <hallpass@localhost>',
  alertDigestHourUtc: 7,
  alertSilentDays: 7,
  logLevel: 'info',
};

/** Environment variables and the keys they set. */
const ENVIRONMENT: Record<string, keyof ServerConfig> = {
  HALLPASS_HOST: 'host',
  HALLPASS_PORT: 'port',
  PORT: 'port',
  DATABASE_URL: 'databaseUrl',
  HALLPASS_DATA_DIR: 'dataDir',
  HALLPASS_TLS_CERT: 'tlsCertFile',
  HALLPASS_TLS_KEY: 'tlsKeyFile',
  HALLPASS_ALLOW_PLAIN_HTTP: 'allowPlainHttp',
  HALLPASS_TRUST_PROXY: 'trustProxy',
  HALLPASS_MAX_CLOCK_SKEW_SECONDS: 'maxClockSkewSeconds',
  HALLPASS_REPORT_RETENTION_DAYS: 'reportRetentionDays',
  HALLPASS_REPORT_STORAGE: 'reportStorage',
  HALLPASS_HISTORY_RETENTION_DAYS: 'historyRetentionDays',
  HALLPASS_SESSION_HOURS: 'sessionHours',
  HALLPASS_BODY_LIMIT_BYTES: 'bodyLimitBytes',
  HALLPASS_INGEST_CONCURRENCY: 'ingestConcurrency',
  HALLPASS_INGEST_QUEUE_LENGTH: 'ingestQueueLength',
  HALLPASS_INGEST_QUEUE_WAIT_MS: 'ingestQueueWaitMs',
  HALLPASS_SMTP_URL: 'smtpUrl',
  HALLPASS_WEBHOOK_ALLOWED_NETWORKS: 'webhookAllowedNetworks',
  HALLPASS_ALERT_EMAIL_FROM: 'alertEmailFrom',
  HALLPASS_ALERT_DIGEST_HOUR_UTC: 'alertDigestHourUtc',
  HALLPASS_ALERT_SILENT_DAYS: 'alertSilentDays',
  HALLPASS_LOG_LEVEL: 'logLevel',
};

/** Converts a string from the environment or a flag to the type its key expects. */
function coerce(key: keyof ServerConfig, value: string): unknown {
  const sample = defaultServerConfig[key];
  if (typeof sample === 'number') {
    return /^-?\d+$/.test(value) ? Number(value) : value;
  }
  if (typeof sample === 'boolean') {
    return value === 'true' || value === '1'
      ? true
      : value === 'false' || value === '0'
        ? false
        : value;
  }
  return value === '' && sample === null ? null : value;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Builds the configuration from a file (`--config` or HALLPASS_CONFIG), the environment and flags.
 * Fails fast with the key and the source of a bad value.
 */
export async function loadServerConfig(
  env: NodeJS.ProcessEnv,
  flags: Partial<Record<keyof ServerConfig, string>> & { config?: string },
): Promise<ServerConfig> {
  const merged: Record<string, unknown> = { ...defaultServerConfig };
  const file = flags.config ?? env.HALLPASS_CONFIG;
  if (file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`config file ${file}: ${(error as Error).message}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${file}: expected a JSON object`);
    }
    Object.assign(merged, parsed);
  }
  for (const [name, key] of Object.entries(ENVIRONMENT)) {
    const value = env[name];
    if (value !== undefined) {
      merged[key] = coerce(key, value);
    }
  }
  const { config: _file, ...settings } = flags;
  for (const [key, value] of Object.entries(settings)) {
    merged[key] = coerce(key as keyof ServerConfig, value);
  }
  const checked = validate(ServerConfigSchema, merged);
  if (!checked.ok) {
    throw new ConfigError(`invalid server configuration: ${describeProblems(checked.problems)}`);
  }
  const config = checked.value;
  try {
    new WebhookNetworks(config.webhookAllowedNetworks);
  } catch (error) {
    throw new ConfigError(
      `invalid server configuration: /webhookAllowedNetworks: ${(error as Error).message}`,
    );
  }
  const tls = config.tlsCertFile !== null && config.tlsKeyFile !== null;
  if ((config.tlsCertFile === null) !== (config.tlsKeyFile === null)) {
    throw new ConfigError('invalid server configuration: tlsCertFile and tlsKeyFile go together');
  }
  if (!tls && !LOOPBACK.test(config.host) && !config.allowPlainHttp) {
    throw new ConfigError(
      `invalid server configuration: /host: ${config.host} is not loopback, so TLS is required (set tlsCertFile and tlsKeyFile, or allowPlainHttp behind a TLS proxy)`,
    );
  }
  return config;
}

/** Where the configured database lives. */
export function databaseLocation(config: ServerConfig): DatabaseLocation {
  return config.databaseUrl === null
    ? { kind: 'pglite', dataDir: config.dataDir }
    : { kind: 'postgresql', url: config.databaseUrl };
}
