// Resolves a target name to a live connection, reading its secret from the environment here,
// inside the worker, so passwords never travel through workflow input or history.
import pg from 'pg';
import { ConfigError, targets, type Config } from '../worker/config.ts';

export function connectionConfig(config: Config, name: string, env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
  const all = targets(config);
  const target = all[name];
  if (!target) {
    throw new ConfigError(`unknown target '${name}' (configured: ${Object.keys(all).join(', ')})`);
  }
  const common = { application_name: 'pggit-ops', connectionTimeoutMillis: 10_000 };
  if (target.url_env) {
    const url = env[target.url_env];
    if (!url) throw new ConfigError(`target '${name}': env ${target.url_env} (targets.${name}.url_env) is not set`);
    return { ...common, connectionString: url };
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
