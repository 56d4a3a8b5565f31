// sql/004_pggit_maintenance.sql on a real throwaway cluster: batched history cleanup (one
// transaction per batch, counted by the transaction ids it consumes) and the maintenance
// recommendations, whose commands are run verbatim to prove they are valid and quoted right.
// History rows are inserted with explicit old change_timestamp values; 002's event triggers add
// rows of their own for the DDL tests run, so counts are relative to what is there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';

let pgs: TestPostgres;

beforeAll(async () => {
  pgs = await startPostgres();
});
afterAll(() => pgs?.stop());

async function installed(): Promise<PgConnection> {
  const db: PgConnection = { ...pgs.connection, database: await pgs.createDatabase('maint') };
  await installPggit(db);
  return db;
}

interface Recommendation {
  command: string | null;
  reason: string;
  priority: number;
}

/** The recommendations once `ready` holds: table statistics reach other sessions when a backend flushes them. */
async function recommendationsWhen(db: PgConnection, args: string, ready: (rows: Recommendation[]) => boolean): Promise<Recommendation[]> {
  const started = Date.now();
  let rows: Recommendation[] = [];
  while (Date.now() - started < 20_000) {
    rows = await withPgClient(db, async (c) => (await c.query<Recommendation>(`SELECT * FROM pggit.maintenance_recommendations(${args})`)).rows);
    if (ready(rows)) return rows;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`recommendations never got there; last: ${JSON.stringify(rows, null, 2)}`);
}

const insertHistory = (ageSql: string, count: number, prefix: string) =>
  `INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, change_timestamp)
   SELECT 'table', '${prefix}' || g, 'ALTER', 'MINOR', now() - ${ageSql} FROM generate_series(1, ${count}) g`;

describe('history cleanup', () => {
  it('deletes old history in batches, one transaction each, keeps the rest, and is idempotent', async () => {
    const db = await installed();
    await withPgClient(db, async (c) => {
      const total = async () => Number((await c.query(`SELECT count(*) FROM pggit.history`)).rows[0].count);
      const before = await total();
      await c.query(insertHistory(`interval '120 days'`, 5000, 'old.'));
      await c.query(insertHistory(`interval '1 day'`, 1000, 'new.'));

      const xidBefore = BigInt((await c.query(`SELECT pg_current_xact_id()::text AS x`)).rows[0].x);
      const { rows } = await c.query(`CALL pggit.cleanup_history(batch_size => 500)`);
      const xidAfter = BigInt((await c.query(`SELECT pg_current_xact_id()::text AS x`)).rows[0].x);
      expect(rows).toEqual([{ rows_deleted: '5000' }]);
      // Ten batches of 500 committed separately took ten transaction ids (one DELETE would take one).
      expect(xidAfter - xidBefore - 1n).toBeGreaterThanOrEqual(10n);

      expect(await total()).toBe(before + 1000);
      expect((await c.query(`SELECT count(*)::int AS n FROM pggit.history WHERE full_name LIKE 'new.%'`)).rows).toEqual([{ n: 1000 }]);
      expect((await c.query(`CALL pggit.cleanup_history(batch_size => 500)`)).rows).toEqual([{ rows_deleted: '0' }]);
      expect(await total()).toBe(before + 1000);
    });
  });

  it('takes retention and batch size from pggit.settings, and one batch at a time from cleanup_history_batch', async () => {
    const db = await installed();
    await withPgClient(db, async (c) => {
      await c.query(`SELECT pggit.configure_monitoring(retention_days => 30, batch_size => 400)`);
      await c.query(insertHistory(`interval '45 days'`, 1000, 'expired.'));
      await c.query(insertHistory(`interval '20 days'`, 300, 'kept.'));

      const batches: number[] = [];
      for (;;) {
        const n = Number((await c.query(`SELECT pggit.cleanup_history_batch() AS n`)).rows[0].n);
        batches.push(n);
        if (n === 0) break;
      }
      expect(batches).toEqual([400, 400, 200, 0]);
      expect((await c.query(`SELECT count(*)::int AS n FROM pggit.history WHERE full_name LIKE 'kept.%'`)).rows).toEqual([{ n: 300 }]);

      // Explicit arguments beat the settings: 10 days now reaches the 20-day-old rows.
      expect((await c.query(`CALL pggit.cleanup_history(retention_days => 10)`)).rows).toEqual([{ rows_deleted: '300' }]);

      for (const [args, message] of [
        ['batch_size => 0', /cleanup_history: batch_size must be between 1 and 100000 rows, got 0/],
        ['retention_days => 0', /cleanup_history: retention_days must be at least 1, got 0/],
      ] as const) {
        await expect(c.query(`SELECT pggit.cleanup_history_batch(${args})`)).rejects.toThrow(message);
      }
    });
  });

  it('refuses to run inside an explicit transaction block, where it cannot commit its batches', async () => {
    const db = await installed();
    await withPgClient(db, async (c) => {
      await c.query(insertHistory(`interval '200 days'`, 10, 'old.'));
      await c.query('BEGIN');
      await expect(c.query(`CALL pggit.cleanup_history()`)).rejects.toThrow(/invalid transaction termination/);
      await c.query('ROLLBACK');
      expect((await c.query(`SELECT count(*)::int AS n FROM pggit.history WHERE full_name LIKE 'old.%'`)).rows).toEqual([{ n: 10 }]);
    });
  });
});

describe('pggit.maintenance_recommendations', () => {
  it('gives correctly quoted VACUUM and ANALYZE commands for hostile names, which run as given', async () => {
    const db = await installed();
    const table = `"Sch ema"."We""ird.Name"`;
    await withPgClient(db, async (c) => {
      await c.query(`CREATE SCHEMA "Sch ema"`);
      // Autovacuum off for this table: the test, not the daemon, decides when it is vacuumed.
      await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, "Pay.load" text) WITH (autovacuum_enabled = false)`);
      await c.query(`CREATE INDEX "Pay.load idx" ON ${table} ("Pay.load")`);
      await c.query(`INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(1, 10000) g`);
      await c.query(`SELECT pg_stat_force_next_flush()`);
    });
    const mine = (rows: Recommendation[]) => rows.filter((r) => r.command?.endsWith(table));

    let rows = await recommendationsWhen(db, `ARRAY['Sch ema']`, (r) => mine(r).length > 0);
    expect(mine(rows)).toEqual([{ command: `VACUUM (ANALYZE) ${table}`, reason: 'never analyzed: the planner has no statistics for its 10000 rows', priority: 2 }]);
    // Not a pggit table: the default call does not look at it.
    expect(mine(await recommendationsWhen(db, '', () => true))).toEqual([]);

    await withPgClient(db, async (c) => {
      await c.query(`ANALYZE ${table}`);
      await c.query(`DELETE FROM ${table} WHERE id > 2000`);
      await c.query(`SELECT pg_stat_force_next_flush()`);
    });
    rows = await recommendationsWhen(db, `ARRAY['Sch ema']`, (r) => mine(r).some((x) => x.priority === 1));
    expect(mine(rows)).toEqual([{ command: `VACUUM (ANALYZE) ${table}`, reason: expect.stringMatching(/^8000 dead tuples \(80% of the table\)/), priority: 1 }]);
    // The never-scanned secondary index is a note, with nothing to run; the primary key is not listed.
    expect(rows).toContainEqual({ command: null, reason: expect.stringMatching(/^note: index "Sch ema"\."Pay\.load idx" on "We""ird\.Name" \(/), priority: 4 });
    expect(rows.some((r) => r.reason.includes('pkey'))).toBe(false);

    await withPgClient(db, (c) => c.query(mine(rows)[0]!.command!));
    rows = await recommendationsWhen(db, `ARRAY['Sch ema']`, (r) => mine(r).length === 0);

    // Stale statistics: analyzed at 2000 rows, 3000 inserted since.
    await withPgClient(db, async (c) => {
      await c.query(`INSERT INTO ${table} SELECT g, md5(g::text) FROM generate_series(20001, 23000) g`);
      await c.query(`SELECT pg_stat_force_next_flush()`);
    });
    rows = await recommendationsWhen(db, `ARRAY['Sch ema']`, (r) => mine(r).length > 0);
    expect(mine(rows)).toEqual([
      { command: `ANALYZE ${table}`, reason: '3000 rows modified since the last analyze (5000 rows in the table): statistics are stale', priority: 3 },
    ]);
    await withPgClient(db, (c) => c.query(mine(rows)[0]!.command!));
    await recommendationsWhen(db, `ARRAY['Sch ema']`, (r) => mine(r).length === 0);
  });

  it('recommends REINDEX CONCURRENTLY for history indexes left bloated by a cleanup, and the command clears it', async () => {
    const db = await installed();
    await withPgClient(db, async (c) => {
      await c.query(insertHistory(`interval '200 days' + g * interval '1 second'`, 20000, 'public.bulk_'));
      await c.query(insertHistory(`interval '1 hour'`, 1000, 'public.recent_'));
      expect((await c.query(`CALL pggit.cleanup_history()`)).rows).toEqual([{ rows_deleted: '20000' }]);
      // Fresh statistics (reltuples, column widths) are what the estimate works from.
      await c.query(`VACUUM (ANALYZE) pggit.history`);
    });
    const reindex = (rows: Recommendation[]) => rows.filter((r) => r.command?.startsWith('REINDEX INDEX CONCURRENTLY pggit.history'));
    const rows = await recommendationsWhen(db, '', (r) => reindex(r).length > 0);
    expect(reindex(rows).map((r) => r.command)).toEqual(
      expect.arrayContaining(['REINDEX INDEX CONCURRENTLY pggit.history_pkey', 'REINDEX INDEX CONCURRENTLY pggit.history_change_timestamp_idx']),
    );
    for (const r of reindex(rows)) {
      expect(r.priority).toBe(3);
      expect(r.reason).toMatch(/^estimated \d+% bloat: \d+ pages on disk where its 10\d\d entries need about \d+$/);
    }
    // The exact commands run (REINDEX CONCURRENTLY refuses a transaction block, so one by one).
    await withPgClient(db, async (c) => {
      for (const r of reindex(rows)) await c.query(r.command!);
    });
    expect(reindex(await recommendationsWhen(db, '', () => true))).toEqual([]);
  });
});
