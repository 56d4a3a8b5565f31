// Shared bits of the benchmark scripts: a durable throwaway PostgreSQL cluster that is always torn
// down (also on error, Ctrl-C or SIGTERM), connections to its databases, pggit installs, timing and
// percentiles. Benchmarks are scripts that print figures, never timed tests.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { applyMigrations } from '../activities/migrations.ts';
import { freePort, LocalCluster } from '../worker/local-postgres.ts';

export interface BenchCluster {
  port: number;
  /** A connected client on `database` (default: postgres); the caller ends it. */
  connect(database?: string): Promise<pg.Client>;
  /** A postgresql:// URL for psql and other tools. */
  url(database?: string): string;
  /** Runs one statement on the maintenance database (CREATE DATABASE, ALTER SYSTEM, ...). */
  admin(sql: string): Promise<void>;
}

/**
 * Starts a durable cluster (fsync and full-page writes on, so commits cost what they cost in
 * production) in a temp folder on a free port, runs `fn`, then stops and removes it, whatever happens.
 */
export async function withCluster<T>(fn: (cluster: BenchCluster) => Promise<T>): Promise<T> {
  const base = mkdtempSync(path.join(tmpdir(), 'pggit-ops-bench-'));
  chmodSync(base, 0o755); // as root the cluster runs as the `postgres` OS user, which must reach its folder
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  const cluster = new LocalCluster({ dir: path.join(base, 'cluster'), port, password, durable: true });
  const removeSync = () => {
    cluster.stopSync();
    rmSync(base, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    removeSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', removeSync);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await cluster.ensureInitialized();
    await cluster.start();
    const config = (database = 'postgres'): pg.ClientConfig => ({ host: '127.0.0.1', port, user: 'postgres', password, database });
    const connect = async (database?: string) => {
      const client = new pg.Client(config(database));
      await client.connect();
      return client;
    };
    return await fn({
      port,
      connect,
      url: (database = 'postgres') => `postgresql://postgres:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      async admin(sql) {
        const client = await connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      },
    });
  } finally {
    process.removeListener('exit', removeSync);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    try {
      if (await cluster.isRunning()) await cluster.stop();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }
}

/** Installs pggit (every sql/ migration, through the product's runner) into `database`. */
export async function installPggit(cluster: BenchCluster, database: string): Promise<void> {
  const client = await cluster.connect(database);
  try {
    await applyMigrations(client);
  } finally {
    await client.end();
  }
}

/** Milliseconds `fn` took, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await fn();
  return { ms: performance.now() - started, result };
}

/** Nearest-rank percentile (p in 0..100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export const ms = (value: number): string => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
export const ratio = (value: number): string => `${value.toFixed(2)}x`;

/** Runs a script's main: prints a failure and exits 1; otherwise the process exits 0. */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`${name}: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
