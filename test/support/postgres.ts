// Real PostgreSQL for tests and benchmarks, behind one small interface with selectable backends:
//  - initdb (default, CI): a throwaway cluster in a temp dir on a free port, always torn down;
//  - external: DATABASE_URL names a server; each test gets a fresh database on it, dropped after.
// Select with PGGIT_OPS_PG_BACKEND=initdb|external (DATABASE_URL alone selects external).
// A testcontainers backend would slot in here where a Docker engine exists; these machines have none.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, LocalCluster } from '../../worker/local-postgres.ts';
import { rememberSecret } from './secrets.ts';

export interface PgConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface TestPostgres {
  backend: 'initdb' | 'external';
  /** The maintenance database the test may use; a fresh one per instance. */
  connection: PgConnection;
  url(database?: string): string;
  /** Creates another empty database on the same server and returns its name. */
  createDatabase(prefix?: string): Promise<string>;
  /** Stops the cluster or drops the databases this instance created. Safe to call twice. */
  stop(): Promise<void>;
  /** Restarts the server (fast shutdown: sessions are cut); only clusters the tests own can be. */
  restart(): Promise<void>;
}

/** A postgresql:// URL for `c`, on `database` if given. */
export function urlOf(c: PgConnection, database = c.database): string {
  return `postgresql://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${encodeURIComponent(database)}`;
}

async function admin<T>(c: PgConnection, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...c });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A TestPostgres on a reachable server; `teardown` gets the databases it created. */
async function onServer(
  backend: TestPostgres['backend'],
  server: PgConnection,
  teardown: (created: string[]) => Promise<void>,
  restart: () => Promise<void> = () => Promise.reject(new Error(`restart needs a cluster the tests own (PGGIT_OPS_PG_BACKEND=initdb), not the ${backend} server`)),
): Promise<TestPostgres> {
  const created: string[] = [];
  const createDatabase = async (prefix = 'test'): Promise<string> => {
    const name = `${prefix}_${randomBytes(4).toString('hex')}`;
    await admin(server, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
    created.push(name);
    return name;
  };
  const connection = { ...server, database: await createDatabase('main') };
  let stopped = false;
  return {
    backend,
    connection,
    url: (database) => urlOf(connection, database),
    createDatabase,
    async stop() {
      if (stopped) return;
      stopped = true;
      await teardown(created);
    },
    restart,
  };
}

async function startInitdb(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-pg-'));
  const password = randomBytes(12).toString('hex');
  rememberSecret(password);
  const cluster = new LocalCluster({ dir, port: await freePort(), password, durable: false });
  // Torn down even when the test process exits without running its afterAll hooks.
  const onExit = () => {
    cluster.stopSync();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  try {
    await cluster.ensureInitialized();
    await cluster.start();
  } catch (err) {
    onExit();
    throw err;
  }
  const server: PgConnection = { host: '127.0.0.1', port: cluster.options.port, user: 'postgres', password, database: 'postgres' };
  return onServer(
    'initdb',
    server,
    async () => {
      process.removeListener('exit', onExit);
      try {
        await cluster.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async () => {
      await cluster.stop();
      await cluster.start();
    },
  );
}

async function startExternal(databaseUrl: string): Promise<TestPostgres> {
  const u = new URL(databaseUrl);
  const server: PgConnection = {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)) || 'postgres',
  };
  rememberSecret(server.password);
  return onServer('external', server, (created) =>
    admin(server, async (c) => {
      for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    }),
  );
}

export function startPostgres(env: NodeJS.ProcessEnv = process.env): Promise<TestPostgres> {
  const backend = env.PGGIT_OPS_PG_BACKEND ?? (env.DATABASE_URL ? 'external' : 'initdb');
  switch (backend) {
    case 'initdb':
      return startInitdb();
    case 'external':
      if (!env.DATABASE_URL) throw new Error('PGGIT_OPS_PG_BACKEND=external needs DATABASE_URL');
      return startExternal(env.DATABASE_URL);
    default:
      throw new Error(`PGGIT_OPS_PG_BACKEND=${backend}: unknown backend (initdb | external)`);
  }
}

export { admin as withPgClient };
