// What every dashboard route gets: the config, a Temporal client and a pool on the ledger. The
// dashboard reads the ledger and Temporal, never the workers' or other components' internals.
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { connectionConfig } from '../activities/targets.ts';
import type { Config, LoadedConfig } from '../worker/config.ts';

export interface DashboardContext {
  loaded: LoadedConfig;
  client: Client;
  ledger: pg.Pool;
}

/** Short timeouts: a page that cannot read the ledger says so instead of hanging. */
export function ledgerPool(config: Config): pg.Pool {
  const pool = new pg.Pool({ ...connectionConfig(config, config.ledger.target), max: 4, connectionTimeoutMillis: 3000, statement_timeout: 10_000 });
  pool.on('error', () => undefined); // an idle connection dropped by the server; the next query reconnects
  return pool;
}

/** Temporal calls from a page give up after this long (a query needs a worker to answer). */
export function soon(ms = 5000): Date {
  return new Date(Date.now() + ms);
}
