// `pggit-ops install`: bring a database's pggit up to date by applying the sql/ migrations it lacks.
import pg from 'pg';
import { applyMigrations } from '../activities/migrations.ts';
import { clientConfigOfUrl, connectionConfig } from '../activities/targets.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { CliError, ExitCode } from './exit-codes.ts';

export interface InstallOptions {
  db?: string;
  databaseUrl?: string;
  json?: boolean;
}

/** The config is loaded only for --db, so a direct URL works whatever state the config file is in. */
function clientConfig(opts: InstallOptions, config: () => LoadedConfig): pg.ClientConfig {
  if ((opts.db === undefined) === (opts.databaseUrl === undefined)) {
    throw new CliError(ExitCode.BadInput, 'install needs exactly one of --db NAME (a configured target) and --database-url URL');
  }
  if (opts.db !== undefined) return connectionConfig(config().config, opts.db);
  return { application_name: 'pggit-ops', connectionTimeoutMillis: 10_000, ...clientConfigOfUrl(opts.databaseUrl!) };
}

export async function install(opts: InstallOptions, config: () => LoadedConfig): Promise<void> {
  const client = new pg.Client(clientConfig(opts, config));
  try {
    await client.connect();
  } catch (err) {
    // Node reports a refused connection to a name with several addresses as an AggregateError with no message.
    const reason = (err as Error).message || (err as { code?: string }).code || String(err);
    throw new CliError(ExitCode.Unavailable, `cannot connect to ${client.host}:${client.port}/${client.database}: ${reason}`);
  }
  try {
    // With --json, stdout carries the result alone; progress goes to stderr.
    const log = opts.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    const result = await applyMigrations(client, { log });
    if (opts.json) console.log(JSON.stringify({ database: client.database, ...result }));
    else console.log(`applied ${plural(result.applied.length, 'migration')}, ${result.alreadyApplied.length} already applied`);
  } finally {
    await client.end();
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
