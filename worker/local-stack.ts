// The embedded default of `npm run up`: a local Postgres cluster (target `local`) and, unless the
// configured Temporal address already answers, a Temporal dev server. Both live under the data
// folder; whatever is already running is reused, and only what this process started is stopped.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { dataDir, LOCAL_PASSWORD_ENV, type LoadedConfig } from './config.ts';
import { LocalCluster } from './local-postgres.ts';
import { DevServer, temporalAnswers } from './temporal-dev-server.ts';

export interface LocalStack {
  postgres: { url: string; state: 'started' | 'reused'; created: boolean; dataDir: string };
  temporal: { address: string; uiUrl: string | undefined; state: 'started' | 'reused'; dbFile: string | undefined };
  stop(): Promise<void>;
}

/** The local cluster's superuser password: generated once, kept in a 0600 file under the data folder. */
function localPassword(dir: string): string {
  const file = path.join(dir, 'postgres.password');
  if (!existsSync(file)) writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

function isLoopback(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':'));
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host) || host.startsWith('127.');
}

async function ensureDatabase(cluster: LocalCluster, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

export async function startLocalStack(loaded: LoadedConfig): Promise<LocalStack> {
  const dir = dataDir(loaded);
  const local = loaded.config.local_stack;
  mkdirSync(dir, { recursive: true });
  const password = localPassword(dir);
  // The in-process worker resolves target `local` through this env var, like any other secret.
  process.env[LOCAL_PASSWORD_ENV] = password;

  const cluster = new LocalCluster({ dir: path.join(dir, 'postgres'), port: local.postgres_port, password, durable: true });
  const created = await cluster.ensureInitialized();
  const pgReused = await cluster.isRunning();
  if (!pgReused) await cluster.start();

  let devServer: DevServer | undefined;
  const address = loaded.config.temporal.address;
  const dbFile = path.join(dir, 'temporal.sqlite');
  try {
    await ensureDatabase(cluster, local.database);
    if (!(await temporalAnswers(address))) {
      if (!isLoopback(address)) throw new Error(`Temporal at ${address} (temporal.address) does not answer`);
      devServer = await DevServer.start({ address, uiPort: local.temporal_ui_port, dbFile, logFile: path.join(dir, 'temporal.log') });
    }
  } catch (err) {
    if (!pgReused) await cluster.stop();
    throw err;
  }

  const host = address.slice(0, address.lastIndexOf(':'));
  return {
    postgres: { url: `postgresql://postgres@127.0.0.1:${local.postgres_port}/${local.database}`, state: pgReused ? 'reused' : 'started', created, dataDir: cluster.dataDir },
    temporal: {
      address,
      // A local server is ours (now or from an earlier `up`); a remote one's UI is its owner's business.
      uiUrl: isLoopback(address) ? `http://${host}:${local.temporal_ui_port}` : undefined,
      state: devServer ? 'started' : 'reused',
      dbFile: devServer ? dbFile : undefined,
    },
    async stop() {
      await devServer?.stop();
      if (!pgReused && (await cluster.isRunning())) await cluster.stop();
    },
  };
}
