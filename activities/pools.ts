// One connection pool per target per worker: steps and ledger writes reuse authenticated
// connections instead of paying a new connection (and SCRAM handshake) each time.
import pg from 'pg';
import type { Config } from '../worker/config.ts';
import { connectionConfig } from './targets.ts';

export class TargetPools {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(private readonly config: Config) {}

  private pool(target: string): pg.Pool {
    let pool = this.pools.get(target);
    if (!pool) {
      pool = new pg.Pool({ ...connectionConfig(this.config, target), max: 4, idleTimeoutMillis: 30_000 });
      // An idle connection dropped by the server must not crash the worker; the next query reconnects.
      pool.on('error', () => undefined);
      // Nor may one a step holds (a recovery drops the target database WITH (FORCE), an
      // administrator runs pg_terminate_backend): its query fails the step, and the pool discards
      // the client on release, as it is no longer queryable. pg-pool listens only on idle clients.
      pool.on('connect', (client) => client.on('error', () => undefined));
      this.pools.set(target, pool);
    }
    return pool;
  }

  /** Runs `fn` with a pooled client of the target. The client must be left as found (no session SETs). */
  async withClient<T>(target: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool(target).connect();
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      // A connection whose session state is unknown after an error is not given to the next step.
      broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** The ledger database (config `ledger.target`). */
  withLedger<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(this.config.ledger.target, fn);
  }

  /**
   * A client of `target` and one of the ledger. When the ledger lives in the target, one client
   * serves both: taking two from one pool lets concurrent steps each hold one and wait forever
   * for a second (bench/runbook-overhead.ts starved a pool of 4 with 100 concurrent runs).
   */
  withTargetAndLedger<T>(target: string, fn: (db: pg.PoolClient, ledger: pg.PoolClient) => Promise<T>): Promise<T> {
    if (target === this.config.ledger.target) return this.withClient(target, (client) => fn(client, client));
    return this.withClient(target, (db) => this.withLedger((ledger) => fn(db, ledger)));
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}
