// Resolves a target name to a live connection, reading its secret from the environment here,
// inside the worker, so passwords never travel through workflow input or history.
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { ConfigError, targets, type Config } from '../worker/config.ts';

/** How to reach a target: node-postgres' settings, and for a target given as a URL that URL, for libpq programs. */
export type TargetConnection = pg.ClientConfig & { url?: string };

/** The database of a postgres:// URL as libpq reads it: the path after the host, up to '?'. */
const URL_DATABASE = /^postgres(?:ql)?:\/\/[^/?]*\/([^?]+)/;

/**
 * A URL as psql and pg_dump read it, in node-postgres' settings. node-postgres takes the database
 * from the path with decodeURI, which leaves %3B, %3D, %2F, %3F and the like encoded (`a%3Bb` would
 * name database `a%3Bb`, not `a;b`); libpq decodes every escape. The rest is node-postgres' own reading.
 */
export function clientConfigOfUrl(url: string): pg.ClientConfig {
  const config = parseIntoClientConfig(url);
  const database = URL_DATABASE.exec(url)?.[1];
  return database === undefined ? config : { ...config, database: decodeURIComponent(database) };
}

export function connectionConfig(config: Config, name: string, env: NodeJS.ProcessEnv = process.env): TargetConnection {
  const all = targets(config);
  const target = all[name];
  if (!target) {
    throw new ConfigError(`unknown target '${name}' (configured: ${Object.keys(all).join(', ')})`);
  }
  const common = { application_name: 'pggit-ops', connectionTimeoutMillis: 10_000 };
  if (target.url_env) {
    const url = env[target.url_env];
    if (!url) throw new ConfigError(`target '${name}': env ${target.url_env} (targets.${name}.url_env) is not set`);
    return { ...common, ...clientConfigOfUrl(url), url };
  }
  let password: string | undefined;
  if (target.password_env) {
    password = env[target.password_env];
    if (password === undefined) {
      throw new ConfigError(`target '${name}': env ${target.password_env} (targets.${name}.password_env) is not set`);
    }
  }
  return {
    ...common,
    host: target.host,
    port: target.port ?? 5432,
    database: target.database ?? 'postgres',
    user: target.user ?? 'postgres',
    password,
    ssl: sslOption(target.sslmode),
  };
}

function sslOption(mode: string | undefined): pg.ClientConfig['ssl'] {
  switch (mode) {
    case undefined:
    case 'disable':
    case 'prefer':
      return undefined;
    case 'require':
      return { rejectUnauthorized: false };
    default: // verify-ca, verify-full
      return { rejectUnauthorized: true };
  }
}
