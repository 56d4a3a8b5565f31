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

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}
