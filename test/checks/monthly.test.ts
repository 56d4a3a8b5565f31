// The monthly checklist's checks on a real throwaway cluster: a clean Pagila database reports no
// problem, and planted problems are found:
// expired history removed in committed batches (with heartbeats, a time budget and cancellation),
// bloated and broken pggit indexes rebuilt CONCURRENTLY, write grants on pggit's tables.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanHistory } from '../../activities/checks/monthly/clean-history.ts';
import { monthlyChecks } from '../../activities/checks/monthly/index.ts';
import { permissionsReview } from '../../activities/checks/monthly/permissions-review.ts';
import { rebuildIndexes } from '../../activities/checks/monthly/rebuild-indexes.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from '../support/postgres.ts';
import { pggitDatabase, problems, runCheck, withCheckContext } from './context.ts';

let pgs: TestPostgres;

beforeAll(async () => {
  pgs = await startPostgres();
});
afterAll(() => pgs?.stop());

const database = (prefix: string, pagila = false) => pggitDatabase(pgs, prefix, pagila);

const insertHistory = (c: pg.Client, age: string, count: number, prefix: string) =>
  c.query(
    `INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, change_timestamp)
     SELECT 'table', $1 || g, 'ALTER', 'MINOR', now() - $2::interval - g * interval '1 second' FROM generate_series(1, $3) g`,
    [prefix, age, count],
  );

const countLike = async (c: pg.Client, prefix: string) =>
  Number((await c.query(`SELECT count(*) AS n FROM pggit.history WHERE full_name LIKE $1 || '%'`, [prefix])).rows[0].n);

const indexSizes = (c: pg.Client) =>
  c
    .query<{ name: string; size: string }>(
      `SELECT c.relname AS name, pg_relation_size(c.oid) AS size FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
        WHERE i.indrelid = 'pggit.history'::regclass ORDER BY 1`,
    )
    .then((r) => Object.fromEntries(r.rows.map((x) => [x.name, Number(x.size)])));

/** 20 000 expired rows removed from 21 000 leave pggit.history's B-trees mostly empty pages. */
async function bloatHistory(db: PgConnection): Promise<void> {
  await withPgClient(db, async (c) => {
    await insertHistory(c, '200 days', 20_000, 'bulk.');
    await insertHistory(c, '1 hour', 1000, 'recent.');
  });
  await withCheckContext(db, (ctx) => runCheck(cleanHistory, ctx));
}

/** Runs `fn` while another session holds open a transaction that wrote to pggit.history: a REINDEX CONCURRENTLY builds its copy, then waits for it. */
async function whileHistoryWriteOpen<T>(db: PgConnection, fn: () => Promise<T>): Promise<T> {
  const blocker = new pg.Client(db);
  await blocker.connect();
  try {
    await blocker.query('BEGIN');
    await blocker.query(`INSERT INTO pggit.history (object_type, full_name, change_type, change_severity) VALUES ('table', 'blocker', 'ALTER', 'MINOR')`);
    return await fn();
  } finally {
    await blocker.query('ROLLBACK');
    await blocker.end();
  }
}

describe('a clean Pagila database', () => {
  it('gives no warning or critical from any monthly check but what Pagila really has', async () => {
    const db = await database('clean', true);
    const problemsOfAll = () =>
      withCheckContext(db, async (ctx) => {
        const found: Record<string, string[]> = {};
        for (const check of monthlyChecks) found[check.name] = problems(await runCheck(check, ctx));
        return found;
      });
    // Pagila is a dump from before PostgreSQL 15, which ends with GRANT ALL ON SCHEMA public TO PUBLIC.
    expect(await problemsOfAll()).toEqual({
      cleanHistory: [],
      rebuildIndexes: [],
      permissionsReview: ['warning public_privileges'],
    });
    await withPgClient(db, (c) => c.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`));
    expect(await problemsOfAll()).toEqual({ cleanHistory: [], rebuildIndexes: [], permissionsReview: [] });
  });
});

describe('cleanHistory', () => {
  it('deletes expired history in committed batches with heartbeats, keeps recent rows, then vacuums', async () => {
    const db = await database('clean_history');
    await withPgClient(db, async (c) => {
      await insertHistory(c, '120 days', 5000, 'old.');
      await insertHistory(c, '1 day', 1000, 'new.');
    });
    const xid = () => withPgClient(db, async (c) => BigInt((await c.query(`SELECT pg_current_xact_id()::text AS x`)).rows[0].x));
    const xidBefore = await xid();
    const result = await withCheckContext(db, async (ctx) => {
      const r = await runCheck(cleanHistory, ctx, { batch_size: 500 });
      // One heartbeat per batch, with the running total.
      const deletes = ctx.heartbeat.mock.calls.map(([d]) => d as { phase: string; rowsDeleted: number }).filter((d) => d.phase === 'delete');
      expect(deletes.map((d) => d.rowsDeleted)).toEqual([500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]);
      return r;
    });
    // Ten batches, each its own transaction (one DELETE would take one transaction id).
    expect((await xid()) - xidBefore).toBeGreaterThanOrEqual(10n);
    expect(result.summary).toMatch(/^deleted 5000 history rows \(\d+ rows\/s\); pggit.history vacuumed$/);
    expect(result.findings).toEqual([
      expect.objectContaining({ code: 'history_cleaned', severity: 'info', details: expect.objectContaining({ rowsDeleted: 5000, batches: 10, retentionDays: 90, batchSize: 500 }) }),
    ]);
    await withPgClient(db, async (c) => {
      expect(await countLike(c, 'old.')).toBe(0);
      expect(await countLike(c, 'new.')).toBe(1000);
      const { rows } = await c.query(`SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relid = 'pggit.history'::regclass`);
      expect(rows).toEqual([{ vacuumed: true, analyzed: true }]);
    });
  });

  it('takes the retention from pggit.settings unless args give one', async () => {
    const db = await database('retention');
    await withPgClient(db, async (c) => {
      await c.query(`SELECT pggit.configure_monitoring(retention_days => 30)`);
      await insertHistory(c, '45 days', 300, 'expired.');
      await insertHistory(c, '20 days', 200, 'kept.');
    });
    await withCheckContext(db, async (ctx) => {
      expect((await runCheck(cleanHistory, ctx)).data).toMatchObject({ rowsDeleted: 300, retentionDays: 30, batchSize: 1000 });
      expect((await runCheck(cleanHistory, ctx, { retention_days: 10 })).data).toMatchObject({ rowsDeleted: 200, retentionDays: 10 });
    });
  });

  it('stops on its time budget with a warning that counts what is left', async () => {
    const db = await database('budget');
    await withPgClient(db, (c) => insertHistory(c, '365 days', 20_000, 'old.'));
    const result = await withCheckContext(db, (ctx) => runCheck(cleanHistory, ctx, { batch_size: 10, max_seconds: 0.05 }));
    const deleted = result.data!.rowsDeleted as number;
    expect(deleted).toBeGreaterThan(0);
    expect(deleted).toBeLessThan(20_000);
    expect(problems(result)).toEqual(['warning time_budget_reached']);
    expect(result.findings[1]!.details).toEqual({ maxSeconds: 0.05, rowsRemaining: 20_000 - deleted, rowsDeleted: deleted });
    await withPgClient(db, async (c) => expect(await countLike(c, 'old.')).toBe(20_000 - deleted));
  });

  it('stops between batches when the step is cancelled, keeping the batches already committed', async () => {
    const db = await database('cancel');
    await withPgClient(db, (c) => insertHistory(c, '365 days', 1000, 'old.'));
    await withCheckContext(db, async (ctx) => {
      ctx.heartbeat.mockImplementation(() => {
        if (ctx.heartbeat.mock.calls.length === 2) ctx.abort.abort(new Error('step cancelled'));
      });
      await expect(runCheck(cleanHistory, ctx, { batch_size: 100 })).rejects.toThrow('step cancelled');
      expect(ctx.heartbeat).toHaveBeenCalledTimes(2);
    });
    await withPgClient(db, async (c) => expect(await countLike(c, 'old.')).toBe(800));
  });
});

describe('rebuildIndexes', () => {
  it('lists the commands first; dry_run runs none; a real run rebuilds the bloated history indexes CONCURRENTLY', async () => {
    const db = await database('reindex');
    await bloatHistory(db);
    const before = await withPgClient(db, indexSizes);
    const expected = ['REINDEX INDEX CONCURRENTLY pggit.history_change_timestamp_idx', 'REINDEX INDEX CONCURRENTLY pggit.history_pkey'];

    const dry = await withCheckContext(db, (ctx) => runCheck(rebuildIndexes, ctx, { dry_run: true }));
    const plan = dry.findings.find((f) => f.code === 'reindex_plan')!;
    expect(plan.severity).toBe('info');
    const planned = (plan.details!.commands as Array<{ command: string; reason: string }>).map((c) => c.command);
    expect(planned).toEqual(expect.arrayContaining(expected));
    for (const c of plan.details!.commands as Array<{ reason: string }>) expect(c.reason).toMatch(/^estimated \d+% bloat/);
    expect(plan.message).toMatch(/^would run \d+ command\(s\): REINDEX INDEX CONCURRENTLY /);
    expect(dry.summary).toMatch(/^dry run: would run \d+ command\(s\), ran none$/);
    expect(dry.data!.executed).toEqual([]);
    expect(await withPgClient(db, indexSizes)).toEqual(before);

    const real = await withCheckContext(db, async (ctx) => {
      const r = await runCheck(rebuildIndexes, ctx);
      // The session goes back to the pool as it was found.
      expect((await ctx.db.query(`SHOW lock_timeout`)).rows).toEqual([{ lock_timeout: '0' }]);
      return r;
    });
    expect(problems(real)).toEqual([]);
    const executed = real.data!.executed as Array<{ command: string; ok: boolean; durationMs: number; sizeBefore: number; sizeAfter: number }>;
    expect(executed.map((e) => e.command)).toEqual(planned);
    for (const e of executed) {
      expect(e.ok).toBe(true);
      expect(e.durationMs).toBeGreaterThanOrEqual(0);
      expect(e.sizeAfter).toBeLessThan(e.sizeBefore / 2);
    }
    const after = await withPgClient(db, indexSizes);
    expect(after.history_pkey).toBeLessThan(before.history_pkey! / 2);
    // Rebuilt means nothing left to do.
    const again = await withCheckContext(db, (ctx) => runCheck(rebuildIndexes, ctx, { dry_run: true }));
    expect(again.findings.filter((f) => f.code === 'reindex_plan')).toEqual([]);
    expect(again.summary).toBe('no index needs rebuilding');
  });

  it('runs at most max_indexes commands and leaves the rest for the next run', async () => {
    const db = await database('reindex_max');
    await bloatHistory(db);
    const result = await withCheckContext(db, (ctx) => runCheck(rebuildIndexes, ctx, { max_indexes: 1 }));
    expect((result.data!.executed as unknown[]).length).toBe(1);
    expect((result.data!.deferred as string[]).length).toBeGreaterThanOrEqual(1);
    expect(result.summary).toMatch(/^ran 1 index command\(s\): 1 done, 0 failed; \d+ left for the next run$/);
  });

  it('reports a failed REINDEX CONCURRENTLY and its _ccnew leftover as a finding, and drops the leftover on the next run', async () => {
    const db = await database('reindex_fail');
    await bloatHistory(db);
    await whileHistoryWriteOpen(db, async () => {
      const result = await withCheckContext(db, (ctx) => runCheck(rebuildIndexes, ctx, { lock_timeout: '300ms', max_indexes: 1 }));
      expect(problems(result)).toEqual(['warning reindex_failed']);
      const failure = result.findings.find((f) => f.code === 'reindex_failed')!;
      expect(failure.message).toMatch(/^REINDEX INDEX CONCURRENTLY pggit\.history_\w+ failed: canceling statement due to lock timeout; invalid index\(es\) left on the table: pggit\.history_\w+_ccnew /);
      expect(failure.details).toMatchObject({ error: { sqlstate: '55P03' }, leftovers: [expect.stringMatching(/^pggit\.history_\w+_ccnew$/)] });
      expect(result.summary).toMatch(/^ran 1 index command\(s\): 0 done, 1 failed; \d+ left for the next run$/);
    });
    const next = await withCheckContext(db, (ctx) => runCheck(rebuildIndexes, ctx));
    const commands = (next.data!.executed as Array<{ command: string; ok: boolean }>).map((e) => `${e.ok ? 'ok' : 'failed'} ${e.command}`);
    expect(commands[0]).toMatch(/^ok DROP INDEX CONCURRENTLY pggit\.history_\w+_ccnew$/);
    expect(commands.slice(1)).toEqual(expect.arrayContaining(['ok REINDEX INDEX CONCURRENTLY pggit.history_pkey']));
    await withPgClient(db, async (c) => {
      expect((await c.query(`SELECT count(*)::int AS n FROM pg_index WHERE NOT indisvalid`)).rows).toEqual([{ n: 0 }]);
    });
  });

  it('cancels a REINDEX that is still running on the server when the step is cancelled', async () => {
    const db = await database('reindex_cancel');
    await bloatHistory(db);
    await whileHistoryWriteOpen(db, () =>
      withCheckContext(db, async (ctx) => {
        const pid = (await ctx.db.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid as number;
        const running = runCheck(rebuildIndexes, ctx);
        const reindexing = () =>
          withPgClient(db, async (c) => (await c.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'REINDEX%' AND state = 'active'`, [pid])).rows.length > 0);
        while (!(await reindexing())) await new Promise((r) => setTimeout(r, 50));
        const started = Date.now();
        ctx.abort.abort(new Error('step cancelled'));
        await expect(running).rejects.toThrow('step cancelled');
        expect(Date.now() - started).toBeLessThan(5000);
        expect(await reindexing()).toBe(false);
      }),
    );
  });

  it('reports never-scanned indexes in the given user schemas as info, and drops nothing', async () => {
    const db = await database('unused');
    await withPgClient(db, async (c) => {
      await c.query(`CREATE SCHEMA "App ""x"""`);
      await c.query(`CREATE TABLE "App ""x"""."Orders" (id int PRIMARY KEY, note text)`);
      await c.query(`CREATE INDEX "Orders note" ON "App ""x"""."Orders" (note)`);
    });
    const result = await withCheckContext(db, (ctx) => runCheck(rebuildIndexes, ctx, { schemas: ['App "x"'] }));
    expect(problems(result)).toEqual([]);
    const note = result.findings.find((f) => f.code === 'index_unused' && f.message.includes('"Orders note"'));
    expect(note).toMatchObject({ severity: 'info', message: expect.stringMatching(/^index "App ""x"""\."Orders note" on "Orders" \(/) });
    await withPgClient(db, async (c) => {
      expect((await c.query(`SELECT to_regclass('"App ""x"""."Orders note"') IS NOT NULL AS exists`)).rows).toEqual([{ exists: true }]);
    });
  });
});

describe('permissionsReview', () => {
  it('reports every role with attributes, memberships and grouped privileges, and flags writers of pggit and PUBLIC grants', async () => {
    const db = await database('perms', true);
    const tag = randomBytes(3).toString('hex');
    const writer = `Wri"ter ${tag}`;
    const group = `grp_${tag}`;
    const member = `member_${tag}`;
    const reader = `reader_${tag}`;
    const q = pg.escapeIdentifier;
    await withPgClient(db, async (c) => {
      await c.query(`CREATE ROLE ${q(writer)} LOGIN CREATEDB`);
      await c.query(`GRANT INSERT, DELETE ON pggit.history TO ${q(writer)}`);
      await c.query(`CREATE ROLE ${q(group)} NOLOGIN`);
      await c.query(`GRANT UPDATE (full_name) ON pggit.objects TO ${q(group)}`);
      await c.query(`CREATE ROLE ${q(member)} LOGIN IN ROLE ${q(group)}`);
      await c.query(`CREATE ROLE ${q(reader)} LOGIN`);
      await c.query(`GRANT SELECT ON pggit.history, public.film, public.actor TO ${q(reader)}`);
      await c.query(`GRANT SELECT ON public.customer TO PUBLIC`);
    });
    try {
      const result = await withCheckContext(db, (ctx) => runCheck(permissionsReview, ctx));
      expect(problems(result)).toEqual(['warning pggit_write_privilege', 'warning pggit_write_privilege', 'warning pggit_write_privilege', 'warning public_privileges']);
      // The group holding the grant and its member, who inherits it.
      const writers = result.findings.filter((f) => f.code === 'pggit_write_privilege');
      expect(writers.map((f) => f.details!.role).sort()).toEqual([group, member, writer].sort());
      expect(writers.find((f) => f.details!.role === writer)!.details!.tables).toEqual([{ role: writer, table: 'pggit.history', owner: 'postgres', privileges: ['DELETE', 'INSERT'] }]);
      // Through membership of the group, with a column grant only.
      expect(writers.find((f) => f.details!.role === member)!.message).toContain('UPDATE on pggit.objects');
      expect(result.findings.find((f) => f.code === 'public_privileges')!.details).toEqual({
        objects: [
          { object: 'schema public', privileges: ['CREATE'] },
          { object: 'table public.customer', privileges: ['SELECT'] },
        ],
      });

      const roles = result.data!.roles as Array<Record<string, unknown>>;
      expect(roles.find((r) => r.role === writer)).toMatchObject({ login: true, createdb: true, superuser: false, member_of: [] });
      expect(roles.find((r) => r.role === member)).toMatchObject({ member_of: [group] });
      expect(roles.find((r) => r.role === reader)).toMatchObject({
        grants: [{ on: 'table', privileges: ['SELECT'], objects: ['pggit.history', 'public.actor', 'public.film'] }],
      });
      const postgres = roles.find((r) => r.role === 'postgres') as { superuser: boolean; owns: Record<string, number> };
      expect(postgres.superuser).toBe(true);
      expect(postgres.owns.table).toBeGreaterThan(20);
      expect(result.data!.otherGrantees).toHaveProperty('PUBLIC');
      expect(result.summary).toMatch(/role\(s\) \(\d+ can log in, 1 superuser\); 3 non-owner role\(s\) can write pggit's records; PUBLIC beyond defaults on 2 object\(s\); needs a person's sign-off$/);
    } finally {
      await withPgClient(db, async (c) => {
        for (const role of [writer, member, group, reader]) {
          await c.query(`DROP OWNED BY ${q(role)}`);
          await c.query(`DROP ROLE ${q(role)}`);
        }
      });
    }
  });
});

