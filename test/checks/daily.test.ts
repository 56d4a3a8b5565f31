// The daily checklist items (activities/checks/daily) on real clusters: Pagila with pggit installed
// afterwards (as on a database that adopts pggit), a clean run that raises nothing, then each
// problem planted for real (slow functions timed by PostgreSQL, tracking errors, drops made by
// another role, a database that grew, backup rows) and found with its evidence. The ledger is the
// target database in some tests and a database of its own in others, as both are supported.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { backupStatus } from '../../activities/checks/daily/backup-status.ts';
import { dailyChecks } from '../../activities/checks/daily/index.ts';
import { performanceAlerts } from '../../activities/checks/daily/performance-alerts.ts';
import { recentMigrations } from '../../activities/checks/daily/recent-migrations.ts';
import { storageGrowth } from '../../activities/checks/daily/storage-growth.ts';
import type { StepResult } from '../../activities/checks/define.ts';
import { startPostgres, withPgClient, type TestPostgres } from '../support/postgres.ts';
import { codes, pagilaEnv, problems, runCheck, until } from './context.ts';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.stop());

const pagila = (ledgerIn: 'target' | 'own database') => pagilaEnv(server, 'daily', ledgerIn);



describe('a clean Pagila database', () => {
  it('gives no warning or critical finding, except that no backup of it has been taken yet', async () => {
    const env = await pagila('target');
    const results: Record<string, StepResult> = {};
    for (const check of dailyChecks) results[check.name] = await runCheck(check, await env.ctx());
    expect(Object.keys(results)).toEqual(['performanceAlerts', 'recentMigrations', 'storageGrowth', 'backupStatus']);

    expect(problems(results.performanceAlerts!)).toEqual([]);
    expect(codes(results.performanceAlerts!)).toEqual(['info pggit_storage_share', 'info track_functions_off']);
    expect(problems(results.recentMigrations!)).toEqual([]);
    // pggit registered Pagila's objects at install: counted, not listed as changes.
    expect(results.recentMigrations!.data).toMatchObject({ by_change_type: { BASELINE: expect.any(Number) }, changes: [], changes_omitted: 0 });
    expect(problems(results.storageGrowth!)).toEqual([]);
    expect(codes(results.storageGrowth!)).toEqual(['info storage_baseline']);
    expect(results.backupStatus!.findings).toEqual([
      { code: 'no_backup', severity: 'critical', message: 'No backup of pagila is recorded in pggit_ops.backups', details: { target: 'pagila' } },
    ]);

    // A ledger installed before the backup catalog (sql/007) existed: the step says so instead of passing.
    await env.ledger.query('ALTER TABLE pggit_ops.backups RENAME TO backups_moved_away');
    expect((await runCheck(backupStatus, await env.ctx())).findings).toEqual([
      {
        code: 'no_backup_catalog',
        severity: 'warning',
        message: 'no backup catalog yet: backups are not verified by pggit-ops',
        details: { expected_table: 'pggit_ops.backups', ledger_database: env.conn.database, target: 'pagila' },
      },
    ]);
    await env.ledger.query('ALTER TABLE pggit_ops.backups_moved_away RENAME TO backups');

    // The next run minutes later compares sizes without extrapolating seconds to a day.
    const again = await runCheck(storageGrowth, await env.ctx());
    expect(codes(again)).toEqual(['info interval_too_short']);
  });
});

describe('performanceAlerts', () => {
  it('reports slow pggit functions, disabled triggers and each distinct tracking error since the previous run', async () => {
    const env = await pagila('own database');
    await env.db.query(`ALTER DATABASE ${pg.escapeIdentifier(env.conn.database)} SET track_functions = 'pl'`);
    await env.db.query(`CREATE FUNCTION pggit."slow ü ""fn"""() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.12); END $$`);
    await env.db.query(`SELECT pggit.configure_monitoring(alert_threshold_ms => 100)`);
    // A new session picks up the database's track_functions.
    await withPgClient(env.conn, async (c) => {
      await c.query(`SELECT pggit."slow ü ""fn"""() FROM generate_series(1, 3)`);
      await c.query(`SELECT pg_stat_force_next_flush()`);
    });
    await env.db.query(`ALTER EVENT TRIGGER pggit_sql_drop DISABLE`);
    const previousRunAt = new Date(Date.now() - 3_600_000);
    await env.db.query(
      `INSERT INTO pggit.tracking_errors (occurred_at, command_tag, sqlstate, message)
       VALUES (now() - interval '1 minute', 'CREATE TABLE', 'XX000', 'could not describe object: password=hunter2'),
              (now() - interval '30 seconds', 'CREATE TABLE', 'XX000', 'could not describe object: password=hunter2'),
              (now(), 'ALTER TABLE', '42P01', 'relation "ghost" does not exist'),
              (now() - interval '2 hours', 'DROP VIEW', 'XX000', 'reported by the previous run'),
              (now() - interval '3 days', 'DROP VIEW', 'XX000', 'long ago')`,
    );

    const result = await until(
      async () => runCheck(performanceAlerts, await env.ctx({ previousRunAt })),
      (r) => r.findings.some((f) => f.code === 'slow_function'),
    );
    expect(result.findings.find((f) => f.code === 'slow_function')).toEqual({
      code: 'slow_function',
      severity: 'critical',
      message: expect.stringMatching(/^Function pggit\."slow ü ""fn"""\(\) averaging 1\d\d\.\d+ ms over 3 calls \(alert threshold 100 ms\)$/),
      details: { function: 'pggit."slow ü ""fn"""()', mean_ms: expect.any(Number), calls: 3, alert_threshold_ms: 100 },
    });
    // The step's own session started after ALTER DATABASE, as a worker's does: functions are timed.
    expect(result.findings.map((f) => f.code)).not.toContain('track_functions_off');
    expect(result.findings.find((f) => f.code === 'event_triggers_disabled')).toMatchObject({
      severity: 'warning',
      details: { disabled: ['pggit_sql_drop'] },
    });

    const errors = result.findings.filter((f) => f.code === 'tracking_error');
    expect(errors).toEqual([
      expect.objectContaining({ severity: 'warning', details: expect.objectContaining({ sqlstate: '42P01', occurrences: 1, command_tags: ['ALTER TABLE'] }) }),
      expect.objectContaining({
        severity: 'warning',
        details: expect.objectContaining({ sqlstate: 'XX000', message: 'could not describe object: password=[REDACTED]', occurrences: 2, roles: ['postgres'] }),
      }),
    ]);
    expect(JSON.stringify(result)).not.toContain('hunter2');
    expect(JSON.stringify(result.findings)).not.toMatch(/previous run|long ago/);
    // The function's own "N tracking errors in the last 24 hours" row is replaced, not repeated.
    expect(result.findings.filter((f) => /tracking errors in the last 24 hours/.test(f.message))).toEqual([]);
    expect(result.data).toMatchObject({ tracking_errors: 3, since: previousRunAt.toISOString() });

    // Without a previous run the window is the last 24 hours; one error listed, the rest counted.
    const capped = await runCheck(performanceAlerts, await env.ctx(), { max_listed: 1 });
    expect(capped.findings.filter((f) => f.code.startsWith('tracking_error'))).toEqual([
      expect.objectContaining({ code: 'tracking_error' }),
      expect.objectContaining({ code: 'tracking_errors_omitted', severity: 'warning', details: { distinct_errors: 2, occurrences: 3 } }),
    ]);
    expect(() => performanceAlerts.args.parse({ max_listd: 1 })).toThrow(/max_listd/);
  });
});

describe('recentMigrations', () => {
  it("lists each breaking statement since the previous run with its objects, role and redacted statement", async () => {
    const env = await pagila('target');
    const role = `mïgrator "${randomBytes(3).toString('hex')}"`;
    const r = pg.escapeIdentifier(role);
    await env.db.query(`CREATE ROLE ${r} NOLOGIN`);
    onTestFinished(() => withPgClient(env.conn, (c) => c.query(`DROP OWNED BY ${r}; DROP ROLE ${r}`)).then(() => undefined));
    await env.db.query(`GRANT CREATE ON SCHEMA public TO ${r}`);
    // Before the window: an old drop and the table's creation.
    await env.db.query(`INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, statement, change_timestamp)
                        VALUES ('table', 'public.ancient', 'DROP', 'MAJOR', 'DROP TABLE public.ancient', now() - interval '3 days')`);
    await env.db.query(`SET ROLE ${r}`);
    await env.db.query(`CREATE TABLE public."Old ""Orders"" ü" (id int PRIMARY KEY, note text)`);
    await env.db.query(`RESET ROLE`);
    const previousRunAt = (await env.db.query<{ now: Date }>(`SELECT clock_timestamp() AS now`)).rows[0]!.now;

    await env.db.query(`SET ROLE ${r}`);
    await env.db.query(`DROP TABLE public."Old ""Orders"" ü" /* password=swordfish */`);
    await env.db.query(`RESET ROLE`);
    await env.db.query(`ALTER TABLE public.actor RENAME COLUMN first_name TO given_name`);
    await env.db.query(`ALTER TABLE public.actor ADD COLUMN nickname text`);

    const result = await runCheck(recentMigrations, await env.ctx({ previousRunAt }));
    expect(result.findings).toEqual([
      {
        code: 'object_dropped',
        severity: 'warning',
        message: expect.stringMatching(
          new RegExp(`^${role} dropped table public\\."Old ""Orders"" ü" and \\d+ more objects at .*: DROP TABLE public\\."Old ""Orders"" ü" /\\* password=\\[REDACTED\\] \\*/$`),
        ),
        details: expect.objectContaining({
          role,
          statement: 'DROP TABLE public."Old ""Orders"" ü" /* password=[REDACTED] */',
          objects: expect.arrayContaining([
            expect.objectContaining({ object_type: 'table', full_name: 'public."Old ""Orders"" ü"', change_type: 'DROP', version_before: '1.0.0', version_after: '2.0.0' }),
            expect.objectContaining({ object_type: 'table column', full_name: 'public."Old ""Orders"" ü".note', change_type: 'DROP' }),
          ]),
        }),
      },
      {
        code: 'major_change',
        severity: 'warning',
        message: expect.stringMatching(/^postgres made a breaking change to .*ALTER TABLE public\.actor RENAME COLUMN first_name TO given_name$/),
        details: expect.objectContaining({
          role: 'postgres',
          objects: expect.arrayContaining([
            expect.objectContaining({ full_name: 'public.actor.given_name', old_full_name: 'public.actor.first_name', change_type: 'RENAME' }),
          ]),
        }),
      },
    ]);
    expect(JSON.stringify(result)).not.toContain('swordfish');
    expect(JSON.stringify(result)).not.toContain('ancient');

    // Counts cover everything in the window; the additive change is counted and listed, not raised.
    const data = result.data as { by_change_type: Record<string, number>; by_severity: Record<string, number>; changes: Array<Record<string, unknown>> };
    expect(data.by_change_type.DROP).toBeGreaterThanOrEqual(3); // table, its columns, its key
    expect(data.by_change_type.CREATE).toBeGreaterThanOrEqual(1);
    expect(data.changes).toContainEqual(expect.objectContaining({ full_name: 'public.actor.nickname', change_type: 'CREATE', change_severity: 'MINOR' }));
    expect(data.changes).not.toContainEqual(expect.objectContaining({ full_name: 'public."Old ""Orders"" ü".id', change_type: 'CREATE' }));
    const listed = await runCheck(recentMigrations, await env.ctx({ previousRunAt }), { max_listed: 2 });
    expect(listed.data).toMatchObject({ changes: [expect.anything(), expect.anything()], changes_omitted: data.changes.length - 2 });

    // Without a previous run: the last 24 hours, so the table's creation counts too, the old drop still not.
    const day = await runCheck(recentMigrations, await env.ctx());
    expect((day.data as { changes: unknown[] }).changes).toContainEqual(expect.objectContaining({ full_name: 'public."Old ""Orders"" ü"', change_type: 'CREATE' }));
    expect(JSON.stringify(day)).not.toContain('ancient');
  });
});

describe('storageGrowth', () => {
  it('warns about growth per day above the threshold and about pggit’s share, writing one ledger row per run', async () => {
    const env = await pagila('own database');
    const first = await env.ctx();
    expect(codes(await runCheck(storageGrowth, first))).toEqual(['info storage_baseline']);
    // As if the first run had been yesterday.
    await env.ledger.query(`UPDATE pggit_ops.stat_snapshots SET taken_at = taken_at - interval '1 day' WHERE run_id = $1`, [first.runId]);

    await env.db.query(`CREATE TABLE public."grown table" AS SELECT g AS id, repeat(md5(g::text), 20) AS payload FROM generate_series(1, 40000) g`);
    await env.db.query(`SELECT pggit.configure_monitoring(storage_alert_percent => 1)`);
    const second = await env.ctx();
    // Thresholds are the runbook's to tune: this growth is within 1000% a day.
    const tolerant = await runCheck(storageGrowth, second, { max_daily_growth_percent: 1000 });
    expect(codes(tolerant)).toEqual(['info storage_growth', 'warning pggit_share_high']);

    // The same step again (a retry) compares with the same previous run, and rewrites its own row.
    const result = await runCheck(storageGrowth, second);
    expect(codes(result)).toEqual(['info storage_growth', 'warning database_growth', 'warning pggit_share_high']);
    const growth = result.findings.find((f) => f.code === 'database_growth')!;
    expect(growth.message).toMatch(/^database grew [\d.]+% per day \([\d.]+ MB\/day, [\d.]+ MB → [\d.]+ MB in 24 h\), above 5%$/);
    expect(growth.details).toMatchObject({ interval_hours: expect.closeTo(24, 1), max_daily_growth_percent: 5, previous_run: first.runId });
    expect((growth.details as { bytes_per_day: number }).bytes_per_day).toBeGreaterThan(20 * 1024 * 1024);
    const share = result.findings.find((f) => f.code === 'pggit_share_high')!;
    expect(share.details).toMatchObject({ storage_alert_percent: 1, share_percent: expect.any(Number) });
    expect((share.details as { share_percent: number }).share_percent).toBeGreaterThan(1);

    const ledgerRows = await env.ledger.query(`SELECT run_id, kind, name, target FROM pggit_ops.stat_snapshots ORDER BY taken_at`);
    expect(ledgerRows.rows).toEqual([first.runId, second.runId].map((run_id) => ({ run_id, kind: 'database', name: env.conn.database, target: 'pagila' })));
    // pggit's own snapshots (for pggit.storage_projection) got one row per call.
    expect((await env.db.query(`SELECT count(*)::int AS n FROM pggit.storage_snapshots`)).rows[0].n).toBe(3);
  });
});

describe('backupStatus', () => {
  it('reads the newest backup of the target from the catalog: missing, stale, failed, unverified or fine', async () => {
    const env = await pagila('own database');
    // Rows of the backup catalog (sql/007) as the backup activities write them.
    let n = 0;
    const backup = (target: string, hoursAgo: number, status: string, verified: boolean) =>
      env.ledger.query(
        `INSERT INTO pggit_ops.backups (backup_id, idempotency_key, target, kind, format, path, started_at, finished_at, status, verified)
         VALUES ($5, $5, $1, 'full', 'custom', $5, now() - make_interval(secs => $2::float8 * 3600),
                 CASE WHEN $3::text = 'running' THEN NULL ELSE now() - make_interval(secs => $2::float8 * 3600 - 600) END, $3, $4)`,
        [target, hoursAgo, status, verified, `backup-${(n += 1)}`],
      );
    const check = async (args: Record<string, unknown> = {}) => runCheck(backupStatus, await env.ctx(), args);

    expect((await check()).findings).toEqual([
      { code: 'no_backup', severity: 'critical', message: 'No backup of pagila is recorded in pggit_ops.backups', details: { target: 'pagila' } },
    ]);
    await backup('pagila', 3, 'failed', false);
    await backup('other target', 1, 'succeeded', true);
    expect(codes(await check())).toEqual(['critical no_successful_backup']);

    await backup('pagila', 30, 'succeeded', true);
    const stale = await check();
    expect(codes(stale)).toEqual(['critical backup_stale', 'warning backup_failed']);
    expect(stale.findings.find((f) => f.code === 'backup_stale')!.details).toMatchObject({
      max_age_hours: 26,
      backup: { status: 'succeeded', verified: true, age_hours: expect.closeTo(29.8, 0) },
    });
    expect(codes(await check({ max_age_hours: 48 }))).toEqual(['warning backup_failed']);

    await backup('pagila', 2, 'succeeded', false);
    expect(codes(await check())).toEqual(['warning backup_unverified']);
    await backup('pagila', 1, 'succeeded', true);
    await backup('pagila', 0.1, 'running', false);
    const fine = await check();
    expect(codes(fine)).toEqual(['info backup_in_progress', 'info backup_ok']);
    expect(fine.data).toMatchObject({ catalog: true, last_success: { status: 'succeeded', verified: true } });
  });
});
