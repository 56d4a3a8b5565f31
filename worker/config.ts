// pggit-ops.config.yaml: targets, Temporal connection, local stack. Validated with zod; env overrides.
// Secrets never live in this file: it names the environment variables that hold them.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const port = z.number().int().min(1).max(65535);
/** Target names appear in workflow ids (`<kind>/<target>/<id>`), so they cannot contain '/'. */
export const targetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "." or "-"');

const targetSchema = z
  .object({
    /** An environment variable holding a full connection URL (which may carry the password). */
    url_env: envVarName.optional(),
    host: z.string().min(1).optional(),
    port: port.optional(),
    database: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    password_env: envVarName.optional(),
    sslmode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
  })
  .strict()
  .refine((t) => t.url_env !== undefined || t.host !== undefined, 'needs url_env or host')
  .refine((t) => !(t.url_env !== undefined && (t.host ?? t.port ?? t.database ?? t.user ?? t.password_env) !== undefined), 'use either url_env or host/port/database/user/password_env, not both');

/** Names of people and groups; runbooks refer to groups as `group:NAME`. */
export const personNamePattern = '[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}';
const personName = z.string().regex(new RegExp(`^${personNamePattern}$`), 'must be 1-63 letters, digits, "_", ".", "@" or "-"');
/** Go-style durations as Temporal takes them: 90s, 15m, 4h, 2d. */
export const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration like 30s, 15m, 4h or 2d');

const peopleSchema = z
  .object({
    /** Who may approve. A token_sha256 lets the CLI authenticate the person by a personal token. */
    users: z
      .record(
        personName,
        z
          .object({
            token_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest').optional(),
            /** For signing in to the dashboard: `pggit-ops hash-password` prints one. */
            password_scrypt: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'must be a hash printed by pggit-ops hash-password').optional(),
          })
          .strict(),
      )
      .default({}),
    /** Named groups of users, for approval gates (`group:dba`). */
    groups: z.record(personName, z.array(personName)).default({}),
  })
  .strict()
  .superRefine((people, ctx) => {
    for (const [group, members] of Object.entries(people.groups)) {
      members.forEach((member, i) => {
        if (!(member in people.users)) ctx.addIssue({ code: 'custom', path: ['groups', group, i], message: `unknown user '${member}' (not in people.users)` });
      });
    }
  });

const checklistNames = ['daily', 'weekly', 'monthly', 'quarterly'] as const;

/** What a webhook can be told about (activities/notifications/). */
export const notificationEvents = ['findings', 'approval_requested', 'run_failed'] as const;

const webhookSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "." or "-"'),
    /** The webhook URL is a secret (it authorises posting): it lives in this environment variable. */
    url_env: envVarName,
    format: z.enum(['json', 'slack']).default('json'),
    /** Findings of at least this severity are sent (info findings never are). */
    min_severity: z.enum(['warning', 'critical']).default('warning'),
    events: z.array(z.enum(notificationEvents)).min(1).default([...notificationEvents]),
  })
  .strict();

const notificationsSchema = z
  .object({ webhooks: z.array(webhookSchema).default([]) })
  .strict()
  .superRefine((n, ctx) => {
    n.webhooks.forEach((w, i) => {
      if (n.webhooks.findIndex((o) => o.name === w.name) < i) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'name'], message: `duplicate webhook name '${w.name}'` });
    });
  });

const dashboardSchema = z
  .object({
    /** Where `pggit-ops serve` listens; an address other than loopback needs `tls`. */
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8340),
    /** Serve https with these PEM files (relative to the config file); required off loopback. */
    tls: z.object({ cert_path: z.string().min(1), key_path: z.string().min(1) }).strict().optional(),
    /** The dashboard's address as people reach it, for links in notifications. */
    public_url: z.url().optional(),
    /** When set, /metrics wants `Authorization: Bearer <the value of this env variable>`. */
    metrics_token_env: envVarName.optional(),
    /** How long a sign-in lasts. */
    session_hours: z.number().positive().max(24 * 30).default(12),
  })
  .strict();

const schedulesSchema = z
  .object({
    /** IANA time zone the calendar specs are read in. */
    timezone: z.string().min(1).default('UTC'),
    /** How late a missed run may still start (e.g. after the Temporal server was down). */
    catchup_window: duration.default('1h'),
    /** Cron expression per checklist (minute hour day-of-month month day-of-week). */
    checklists: z
      .object(Object.fromEntries(checklistNames.map((c) => [c, z.string().min(1)])) as Record<(typeof checklistNames)[number], z.ZodString>)
      .partial()
      .strict()
      .default({ daily: '0 6 * * *', weekly: '0 7 * * 1', monthly: '0 8 1 * *', quarterly: '0 9 1 1,4,7,10 *' }),
  })
  .strict();

const tlsSchema = z
  .object({
    client_cert_path: z.string().min(1).optional(),
    client_key_path: z.string().min(1).optional(),
    server_ca_cert_path: z.string().min(1).optional(),
    server_name: z.string().min(1).optional(),
  })
  .strict()
  .refine((t) => (t.client_cert_path === undefined) === (t.client_key_path === undefined), 'client_cert_path and client_key_path go together');

const configSchema = z
  .object({
    temporal: z
      .object({
        address: z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port').default('127.0.0.1:7233'),
        namespace: z.string().min(1).default('default'),
        /** Present (even empty) turns TLS on. */
        tls: tlsSchema.optional(),
        /** Name of the environment variable holding a Temporal Cloud API key. */
        api_key_env: envVarName.default('TEMPORAL_API_KEY'),
        /**
         * Present: every workflow payload is encrypted (AES-256-GCM) before it leaves the worker or
         * the CLI, with the base64 32-byte key in this environment variable (worker/payload-codec.ts).
         */
        payload_encryption: z
          .object({
            key_env: envVarName,
            /** Recorded with each payload, so keys can be rotated: old payloads name their key. */
            key_id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, "_", "." or "-"').default('default'),
          })
          .strict()
          .optional(),
        task_queues: z
          .object({
            /** Short read-only checks. */
            checks: z.string().min(1).default('pggit-ops-checks'),
            /** Long jobs (dump, restore, rollback), so a drill never starves the daily checks. */
            jobs: z.string().min(1).default('pggit-ops-jobs'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    targets: z.record(targetName, targetSchema).default({}),
    /** Where the run ledger (schema pggit_ops) lives. */
    ledger: z.object({ target: targetName.default('local') }).strict().prefault({}),
    people: peopleSchema.prefault({}),
    backups: z
      .object({
        /** The backup store: a local directory (relative to the config file's folder). */
        dir: z.string().min(1).default('.pggit-ops/backups'),
        /** Retention by calendar bucket: the newest backup of each of the last N days / weeks / months is kept. */
        retention: z
          .object({ daily: z.number().int().min(0).default(7), weekly: z.number().int().min(0).default(4), monthly: z.number().int().min(0).default(6) })
          .strict()
          .prefault({}),
        /** Where restore drills create their scratch database: a configured target (its server), default the source's own. */
        drill_target: targetName.optional(),
        /** Tables up to this size get a content checksum in the drill's comparison (bigger ones: row counts only). */
        checksum_max_table_bytes: z.number().int().min(0).default(256 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    schedules: schedulesSchema.prefault({}),
    dashboard: dashboardSchema.prefault({}),
    notifications: notificationsSchema.prefault({}),
    local_stack: z
      .object({
        /** Relative paths are taken from the config file's folder (or the project root without one). */
        data_dir: z.string().min(1).default('.pggit-ops'),
        temporal_ui_port: port.default(8233),
        postgres_port: port.default(55432),
        database: z.string().min(1).default('local'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment variables that override config keys (Temporal's own env names where it has them). */
const envOverrides: Array<{ env: string; key: string[]; type?: 'tls-flag' }> = [
  { env: 'TEMPORAL_ADDRESS', key: ['temporal', 'address'] },
  { env: 'TEMPORAL_NAMESPACE', key: ['temporal', 'namespace'] },
  { env: 'TEMPORAL_TLS_CLIENT_CERT_PATH', key: ['temporal', 'tls', 'client_cert_path'] },
  { env: 'TEMPORAL_TLS_CLIENT_KEY_PATH', key: ['temporal', 'tls', 'client_key_path'] },
  { env: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', key: ['temporal', 'tls', 'server_ca_cert_path'] },
  { env: 'TEMPORAL_TLS_SERVER_NAME', key: ['temporal', 'tls', 'server_name'] },
  { env: 'TEMPORAL_TLS', key: ['temporal', 'tls'], type: 'tls-flag' },
  { env: 'PGGIT_OPS_DATA_DIR', key: ['local_stack', 'data_dir'] },
];

function setIn(obj: Record<string, unknown>, key: string[], value: unknown): void {
  let node = obj;
  for (const k of key.slice(0, -1)) {
    const next = node[k];
    if (typeof next !== 'object' || next === null) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[key.at(-1)!] = value;
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, if any. */
  file: string | undefined;
  /** Folder that relative paths in the config are resolved against. */
  baseDir: string;
}

/**
 * Loads the config: the file named by `file`, else env PGGIT_OPS_CONFIG, else ./pggit-ops.config.yaml
 * when present, else defaults alone. Then env overrides, then validation. Errors name the key.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const named = options.file ?? env.PGGIT_OPS_CONFIG;
  const candidate = named ?? path.join(cwd, 'pggit-ops.config.yaml');
  let raw: unknown = {};
  let file: string | undefined;
  if (named !== undefined || existsSync(candidate)) {
    file = path.resolve(cwd, candidate);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${file}: invalid YAML: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config file ${file}: must be a mapping of keys`);
  }
  const merged = structuredClone(raw) as Record<string, unknown>;
  const fromEnv = new Map<string, string>();
  for (const o of envOverrides) {
    const value = env[o.env];
    if (value === undefined || value === '') continue;
    if (o.type === 'tls-flag') {
      if (!['true', 'false', '1', '0'].includes(value)) throw new ConfigError(`env ${o.env}=${value}: must be true or false`);
      const temporal = (merged.temporal ?? {}) as Record<string, unknown>;
      if (value === 'true' || value === '1') setIn(merged, o.key, temporal.tls ?? {});
      else delete temporal.tls;
    } else {
      setIn(merged, o.key, value);
    }
    fromEnv.set(o.key.join('.'), o.env);
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join('.') || '(top level)';
      const source = fromEnv.has(key) ? ` (from env ${fromEnv.get(key)})` : '';
      return `${key}${source}: ${issue.message}`;
    });
    throw new ConfigError(`invalid pggit-ops config${file ? ` in ${file}` : ''}:\n  ${problems.join('\n  ')}`);
  }
  const baseDir = file ? path.dirname(file) : cwd;
  return { config: result.data, file, baseDir };
}

export function dataDir(loaded: LoadedConfig): string {
  return path.resolve(loaded.baseDir, loaded.config.local_stack.data_dir);
}

/** The env var the local stack's Postgres password is handed to its workers in. */
export const LOCAL_PASSWORD_ENV = 'PGGIT_OPS_LOCAL_PGPASSWORD';

/** Targets from the file, plus `local` (the embedded cluster of `npm run up`) unless the file defines one. */
export function targets(config: Config): Record<string, TargetConfig> {
  return {
    local: {
      host: '127.0.0.1',
      port: config.local_stack.postgres_port,
      database: config.local_stack.database,
      user: 'postgres',
      password_env: LOCAL_PASSWORD_ENV,
    },
    ...config.targets,
  };
}
