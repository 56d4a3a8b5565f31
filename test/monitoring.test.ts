// sql/003_pggit_monitoring.sql on a real throwaway cluster: every dashboard view, the alerts, the
// Grafana endpoint, the health check and the support bundle, each fed real data (pggit-schema
// functions timed by PostgreSQL, history rows at chosen days, snapshots with rising sizes) and each
// checked against what the catalogs say directly. Each test gets a database of its own with pggit
// installed by the product's migration runner; 002's event triggers record the DDL tests run, so
// counts are taken relative to what is there.
import { readdirSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMigrationsDir } from '../activities/migrations.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';

let pgs: TestPostgres;

beforeAll(async () => {
  pgs = await startPostgres();
});
afterAll(() => pgs?.stop());

async function pggitDatabase(): Promise<PgConnection> {
  const connection = { ...pgs.connection, database: await pgs.createDatabase('mon') };
  await installPggit(connection);
  return connection;
}

type Row = Record<string, unknown>;
const rowsOf = (db: PgConnection, sql: string, params: unknown[] = []): Promise<Row[]> =>
  withPgClient(db, async (c) => (await c.query(sql, params)).rows);

/** Statistics reach other sessions when their backend flushes them (PostgreSQL 15: at most once a second). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last saw ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The size of pggit's relations, computed here independently of pggit.storage_bytes(). */
async function pggitBytes(c: pg.Client): Promise<number> {
  const { rows } = await c.query(`SELECT sum(pg_total_relation_size(c.oid))::bigint AS b FROM pg_class c
                                   WHERE c.relnamespace = 'pggit'::regnamespace AND c.relkind IN ('r', 'p', 'm')`);
  return Number(rows[0].b);
}

describe('pggit.configure_monitoring', () => {
  it('takes identifier named arguments, keeps what is NULL, and names the argument it refuses', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      const { rows } = await c.query(`SELECT pggit.configure_monitoring(alert_threshold_ms => 250, batch_size => 100, cleanup_interval_hours => 12) AS s`);
      expect(rows[0].s).toMatchObject({ alert_threshold_ms: 250, batch_size: 100, cleanup_interval_hours: 12, retention_days: 90, storage_alert_percent: 10 });
      expect(rows[0].s).not.toHaveProperty('singleton');

      const kept = await c.query(`SELECT pggit.configure_monitoring(retention_days => 30) AS s`);
      expect(kept.rows[0].s).toMatchObject({ alert_threshold_ms: 250, batch_size: 100, cleanup_interval_hours: 12, retention_days: 30 });
      const stored = await c.query(`SELECT alert_threshold_ms::float8 AS t, batch_size, retention_days FROM pggit.settings`);
      expect(stored.rows).toEqual([{ t: 250, batch_size: 100, retention_days: 30 }]);

      // The guide's quoted-name form is not PostgreSQL syntax.
      await expect(c.query(`SELECT pggit.configure_monitoring('alert_threshold_ms' => 1000)`)).rejects.toThrow(/syntax error at or near "=>"/);

      for (const [call, message] of [
        [`alert_threshold_ms => 0`, /alert_threshold_ms must be .* above 0, got 0/],
        [`alert_threshold_ms => 'NaN'`, /alert_threshold_ms must be/],
        [`batch_size => 0`, /batch_size must be between 1 and 100000 rows, got 0/],
        [`batch_size => 1000000`, /batch_size must be between 1 and 100000 rows, got 1000000/],
        [`cleanup_interval_hours => -1`, /cleanup_interval_hours must be between 1 and 8760/],
        [`retention_days => 0`, /retention_days must be at least 1, got 0/],
        [`storage_alert_percent => 150`, /storage_alert_percent must be above 0 and at most 100, got 150/],
      ] as const) {
        const err = await c.query(`SELECT pggit.configure_monitoring(${call})`).catch((e: pg.DatabaseError) => e);
        expect(err).toMatchObject({ code: '22023' });
        expect((err as Error).message).toMatch(message);
      }
      // Nothing changed by the refused calls.
      expect((await c.query(`SELECT batch_size, retention_days FROM pggit.settings`)).rows).toEqual([{ batch_size: 100, retention_days: 30 }]);
    });
  });
});

describe('function performance and alerts', () => {
  it('times pggit functions when track_functions is on and raises CRITICAL / WARNING from the threshold', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      await c.query(`ALTER DATABASE ${c.escapeIdentifier(db.database)} SET track_functions = 'pl'`);
      // Deliberately slow functions in schema pggit (only pggit's own functions are watched).
      await c.query(`CREATE FUNCTION pggit.test_slow() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.12); END $$`);
      await c.query(`CREATE FUNCTION pggit.test_medium() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.06); END $$`);
      await c.query(`CREATE FUNCTION pggit.test_fast() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$`);
      await c.query(`SELECT pggit.configure_monitoring(alert_threshold_ms => 100)`);
    });
    // A new session picks up the database's track_functions = 'pl'.
    await withPgClient(db, async (c) => {
      expect((await c.query(`SHOW track_functions`)).rows[0].track_functions).toBe('pl');
      for (let i = 0; i < 6; i++) await c.query(`SELECT pggit.test_slow(), pggit.test_medium()`);
      await c.query(`SELECT pggit.test_fast() FROM generate_series(1, 200)`);
      await c.query(`SELECT pg_stat_force_next_flush()`);
    });

    const perf = await until(
      () => rowsOf(db, `SELECT funcname, function, calls::int, total_time, self_time, mean_time::float8 AS mean_time, notice
                          FROM pggit.function_performance WHERE funcname LIKE 'test\\_%'`),
      (rows) => rows.length === 3,
      'the test functions in pggit.function_performance',
    );
    const byName = Object.fromEntries(perf.map((r) => [r.funcname, r]));
    expect(byName.test_slow).toMatchObject({ function: 'pggit.test_slow()', calls: 6, notice: null });
    expect(byName.test_fast).toMatchObject({ calls: 200 });
    for (const r of perf) expect(r.mean_time).toBeCloseTo((r.total_time as number) / (r.calls as number), 2);
    expect(byName.test_slow!.mean_time).toBeGreaterThanOrEqual(120);
    expect(byName.test_medium!.mean_time).toBeGreaterThanOrEqual(60);
    expect(byName.test_medium!.mean_time).toBeLessThan(100);

    const alerts = await rowsOf(db, `SELECT * FROM pggit.check_performance_alerts() WHERE alert_type = 'PERFORMANCE'`);
    const about = (fn: string) => alerts.filter((a) => String(a.message).startsWith(`Function pggit.${fn}() averaging`));
    expect(about('test_slow')).toEqual([expect.objectContaining({ severity: 'CRITICAL' })]);
    expect(about('test_slow')[0]!.message).toMatch(/averaging 1\d\d\.\d+ ms over 6 calls \(alert threshold 100 ms\)/);
    expect(about('test_medium')).toEqual([expect.objectContaining({ severity: 'WARNING' })]);
    expect(about('test_fast')).toEqual([]); // far below a tenth of the threshold
    expect(alerts.some((a) => /track_functions/.test(String(a.message)))).toBe(false);

    // Threshold raised above both: nothing CRITICAL, the slow one is now a WARNING.
    await rowsOf(db, `SELECT pggit.configure_monitoring(alert_threshold_ms => 200)`);
    const relaxed = await rowsOf(db, `SELECT severity FROM pggit.check_performance_alerts() WHERE message LIKE 'Function pggit.test_slow()%'`);
    expect(relaxed).toEqual([{ severity: 'WARNING' }]);
  });

  it('says plainly that function alerts cannot fire while track_functions is none', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      await c.query(`SET track_functions = 'none'`);
      await c.query(`CREATE FUNCTION pggit.test_slow() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); END $$`);
      await c.query(`SELECT pggit.test_slow() FROM generate_series(1, 3)`);

      const alerts = (await c.query(`SELECT * FROM pggit.check_performance_alerts()`)).rows;
      expect(alerts).toContainEqual({
        alert_type: 'PERFORMANCE',
        severity: 'INFO',
        message: expect.stringMatching(/^track_functions is none: .* no function alert can fire; .*SET track_functions = 'pl'$/),
      });
      expect(alerts.filter((a) => String(a.message).startsWith('Function '))).toEqual([]);

      const perf = (await c.query(`SELECT * FROM pggit.function_performance`)).rows;
      expect(perf).toEqual([expect.objectContaining({ funcname: null, calls: null, notice: expect.stringMatching(/^track_functions is none: PostgreSQL is not timing functions/) })]);
      const scaling = (await c.query(`SELECT recommendation FROM pggit.scaling_bottlenecks WHERE component = 'Event Trigger Mean Time (ms)'`)).rows;
      expect(scaling).toEqual([{ recommendation: expect.stringMatching(/^Unknown: track_functions is none/) }]);
    });
  });

  it('raises the storage alert above storage_alert_percent with the correctly computed share', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      const share = async () => {
        const { rows } = await c.query(`SELECT pg_database_size(current_database()) AS d`);
        return Math.round((10000 * (await pggitBytes(c))) / Number(rows[0].d)) / 100;
      };
      const storage = async () => (await c.query(`SELECT message, severity FROM pggit.check_performance_alerts() WHERE alert_type = 'STORAGE'`)).rows;
      const expected = await share();
      expect(await storage()).toEqual([{ message: expect.stringContaining(`pggit using ${expected.toFixed(2)}% of database`), severity: 'INFO' }]);
      await c.query(`SELECT pggit.configure_monitoring(storage_alert_percent => ${Math.max(expected / 2, 0.01)})`);
      expect(await storage()).toEqual([{ message: expect.stringMatching(/^pggit using [\d.]+% of database/), severity: 'WARNING' }]);
    });
  });
});

describe('event triggers and the health check', () => {
  it('reports pggit event triggers from pg_event_trigger, and a disabled one as an error', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      const catalog = (
        await c.query(`SELECT e.evtname AS name, e.evtevent AS event, e.evtenabled <> 'D' AS enabled
                         FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid
                        WHERE p.pronamespace = 'pggit'::regnamespace ORDER BY 1`)
      ).rows;
      expect(catalog.length).toBeGreaterThan(0); // sql/002 installs them
      const view = (await c.query(`SELECT name, event, enabled, trigger_count::int, enabled_count::int FROM pggit.event_trigger_overhead`)).rows;
      expect(view).toEqual(catalog.map((t) => ({ ...t, trigger_count: catalog.length, enabled_count: catalog.length })));

      const victim = catalog[0]!.name as string;
      await c.query(`ALTER EVENT TRIGGER ${c.escapeIdentifier(victim)} DISABLE`);
      const health = (await c.query(`SELECT * FROM pggit.enterprise_health_check()`)).rows;
      expect(health).toContainEqual({ component: `event trigger ${victim}`, status: 'ERROR', details: expect.stringContaining('DISABLED') });
      const alerts = (await c.query(`SELECT * FROM pggit.check_performance_alerts() WHERE alert_type = 'TRACKING'`)).rows;
      expect(alerts).toContainEqual({ alert_type: 'TRACKING', message: `Disabled pggit event triggers: ${victim}`, severity: 'WARNING' });

      for (const t of catalog) await c.query(`ALTER EVENT TRIGGER ${c.escapeIdentifier(t.name as string)} DISABLE`);
      const none = (await c.query(`SELECT * FROM pggit.check_performance_alerts() WHERE severity = 'CRITICAL'`)).rows;
      expect(none).toEqual([{ alert_type: 'TRACKING', message: 'No enabled pggit event trigger: DDL changes are not being recorded', severity: 'CRITICAL' }]);
      const scaling = (await c.query(`SELECT current_load::int, recommendation FROM pggit.scaling_bottlenecks WHERE component = 'Event Triggers'`)).rows;
      expect(scaling).toEqual([{ current_load: 0, recommendation: expect.stringMatching(/^No enabled pggit event trigger/) }]);
    });
  });

  it('checks what exists and lists the guide\'s enterprise modules as not installed', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      await c.query(`INSERT INTO pggit.tracking_errors (command_tag, message) VALUES ('CREATE TABLE', 'boom: could not describe object')`);
      const health = (await c.query(`SELECT * FROM pggit.enterprise_health_check()`)).rows;
      const status = Object.fromEntries(health.map((r) => [r.component, r.status]));
      for (const t of ['objects', 'history', 'dependencies', 'tracking_errors', 'settings', 'storage_snapshots']) expect(status[`table pggit.${t}`]).toBe('OK');
      expect(status.settings).toBe('OK');
      expect(health).toContainEqual({ component: 'tracking errors (24h)', status: 'WARNING', details: '1; latest: boom: could not describe object' });
      expect(health).toContainEqual({ component: 'track_functions', status: 'WARNING', details: expect.stringMatching(/^none: /) });
      const modules = health.filter((r) => String(r.component).startsWith('enterprise module '));
      expect(modules.map((r) => [r.component, r.status])).toEqual(
        ['040_enterprise_impact_analysis', '041_zero_downtime_deployment', '042_cost_optimization_dashboard', '050_cicd_integration', '051_enterprise_auth_rbac', '052_compliance_reporting'].map(
          (m) => [`enterprise module ${m}`, 'NOT INSTALLED'],
        ),
      );

      // A missing table is reported, not a crash of the check itself.
      await c.query(`DROP TABLE pggit.tracking_errors`);
      const after = (await c.query(`SELECT * FROM pggit.enterprise_health_check()`)).rows;
      expect(after).toContainEqual({ component: 'table pggit.tracking_errors', status: 'ERROR', details: expect.stringContaining('missing') });
      expect(after.some((r) => r.component === 'tracking errors (24h)')).toBe(false);
    });
  });
});

describe('dashboard views', () => {
  it('survive hostile identifiers where the guide\'s name concatenation breaks', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      await c.query(`CREATE SCHEMA "Sch ema"`);
      await c.query(`CREATE TABLE "Sch ema"."We""ird.Name" (id int PRIMARY KEY, "Pay.load" text)`);
      await c.query(`INSERT INTO "Sch ema"."We""ird.Name" SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g`);
      // The same name inside pggit, where the guide's pg_tables sum looks.
      await c.query(`CREATE TABLE pggit."We""ird.Name" (id int PRIMARY KEY)`);
      await c.query(`INSERT INTO pggit."We""ird.Name" SELECT generate_series(1, 500)`);
      await c.query(`SELECT pg_stat_force_next_flush()`);

      await expect(
        c.query(`SELECT SUM(pg_total_relation_size(schemaname||'.'||tablename)) FROM pg_tables WHERE schemaname = 'pggit'`),
      ).rejects.toThrow(/cross-database references are not implemented: "pggit.we"ird.name"/);

      for (const view of ['health_metrics', 'function_performance', 'event_trigger_overhead', 'index_usage', 'table_statistics', 'growth_trend', 'storage_projection', 'scaling_bottlenecks']) {
        await c.query(`SELECT * FROM pggit.${view}`);
      }
      for (const fn of ['check_performance_alerts()', 'metrics_for_grafana()', 'enterprise_health_check()', 'generate_contribution_metrics()', 'snapshot_storage()']) {
        await c.query(`SELECT * FROM pggit.${fn}`);
      }

      const { rows: size } = await c.query(`SELECT pg_database_size(current_database()) AS d`);
      const overhead = (await c.query(`SELECT value FROM pggit.health_metrics WHERE metric = 'Storage Overhead %'`)).rows[0].value;
      expect(Number(overhead)).toBeCloseTo((100 * (await pggitBytes(c))) / Number(size[0].d), 2);
      expect((await pggitBytes(c)) > 0).toBe(true);

      const index = (await c.query(`SELECT schemaname, relname, indexrelname, idx_scan::int, size_bytes::int FROM pggit.index_usage WHERE relname = 'We"ird.Name'`)).rows;
      expect(index).toEqual([
        { schemaname: 'pggit', relname: 'We"ird.Name', indexrelname: 'We"ird.Name_pkey', idx_scan: 0, size_bytes: expect.any(Number) },
      ]);
      expect(index[0]!.size_bytes).toBeGreaterThan(0);
    });
    const stats = await until(
      () => rowsOf(db, `SELECT relname, n_live_tup::int, n_dead_tup::int, dead_ratio::float8 FROM pggit.table_statistics WHERE relname = 'We"ird.Name'`),
      (rows) => rows[0]?.n_live_tup === 500,
      'statistics of pggit."We""ird.Name"',
    );
    expect(stats).toEqual([{ relname: 'We"ird.Name', n_live_tup: 500, n_dead_tup: 0, dead_ratio: 0 }]);
  });

  it('counts every day of the 30-day window in growth_trend, empty days as zero', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      // Noon of the day N days ago: whole days, whatever the time of the run.
      const insertAt = (n: number, rows: number) =>
        c.query(`INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, change_timestamp)
                 SELECT 'table', 'public.g' || g, 'ALTER', 'MINOR', date_trunc('day', now()) - make_interval(days => $1) + interval '12 hours'
                   FROM generate_series(1, $2) g`, [n, rows]);
      await insertAt(3, 10);
      await insertAt(10, 40);
      await insertAt(29, 4);
      await insertAt(31, 500); // outside the window
      const today = Number((await c.query(`SELECT count(*) FROM pggit.history WHERE change_timestamp >= date_trunc('day', now())`)).rows[0].count);

      const daily = Array.from({ length: 30 }, () => 0);
      daily[29 - 3] = 10;
      daily[29 - 10] = 40;
      daily[0] = 4;
      daily[29] = today;
      const mean = daily.reduce((a, b) => a + b, 0) / 30;
      const stddev = Math.sqrt(daily.reduce((a, b) => a + (b - mean) ** 2, 0) / 29);

      const { rows } = await c.query(`SELECT days::int, active_days::int, total_changes::int, avg_daily_changes::float8 AS avg,
                                             peak_daily_changes::int AS peak, change_variability::float8 AS stddev FROM pggit.growth_trend`);
      expect(rows).toEqual([{ days: 30, active_days: today > 0 ? 4 : 3, total_changes: 54 + today, avg: expect.any(Number), peak: Math.max(40, today), stddev: expect.any(Number) }]);
      expect(rows[0].avg).toBeCloseTo(mean, 2);
      expect(rows[0].stddev).toBeCloseTo(stddev, 2);
      // The guide's query averages active days only, so it reports a higher average.
      const guide = await c.query(`WITH growth_data AS (SELECT DATE_TRUNC('day', change_timestamp) as day, COUNT(*) as daily_changes FROM pggit.history
                                     WHERE change_timestamp > date_trunc('day', now()) - interval '29 days' GROUP BY 1)
                                   SELECT AVG(daily_changes)::float8 AS avg FROM growth_data`);
      expect(guide.rows[0].avg).toBeGreaterThan(rows[0].avg);
    });
  });

  it('projects storage from history growth with too few snapshots, and from a fitted line once there are enough', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      const projection = async () =>
        (
          await c.query(`SELECT current_bytes::float8 AS cur, projected_6_months_bytes::float8 AS p6, projected_1_year_bytes::float8 AS p12,
                                growth_bytes_per_day::float8 AS rate, snapshots::int, r2::float8, confidence, basis FROM pggit.storage_projection`)
        ).rows[0];

      // Nothing but the install baseline (BASELINE rows are a one-off and do not count as growth).
      let p = await projection();
      expect(p).toMatchObject({ snapshots: 0, confidence: 'low', rate: 0 });
      expect(p.basis).toMatch(/^too few snapshots \(0 of the 3 needed; /);
      expect(p.p12).toBe(p.cur);

      // Two snapshots are still too few; 300 changes over the last two days give a history rate.
      await c.query(`SELECT pggit.snapshot_storage()`);
      await c.query(`SELECT pggit.snapshot_storage()`);
      await c.query(`INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, change_timestamp)
                     SELECT 'table', 'public.p' || g, 'ALTER', 'MINOR', now() - interval '2 days' + g * interval '1 second' FROM generate_series(1, 300) g`);
      p = await projection();
      expect(p).toMatchObject({ snapshots: 2, confidence: 'low' });
      expect(p.basis).toMatch(/^too few snapshots \(2 of the 3 needed; pggit\.snapshot_storage\(\) adds one\): estimated from history growth instead, 150\.0 rows\/day over the last 30 days × \d+ bytes per history row$/);
      expect(p.rate).toBeGreaterThan(0);
      expect(p.p6).toBeCloseTo(p.cur + p.rate * 182.5, -2);
      expect(p.p12).toBeGreaterThan(p.p6);

      // Ten daily snapshots growing by exactly 50 000 bytes a day: the fit finds that rate.
      await c.query(`TRUNCATE pggit.storage_snapshots`);
      await c.query(`INSERT INTO pggit.storage_snapshots (taken_at, total_bytes, history_rows)
                     SELECT now() - make_interval(days => 10 - i), 1000000 + 50000 * i, 100 * i FROM generate_series(0, 9) i`);
      p = await projection();
      expect(p).toMatchObject({ snapshots: 10, rate: 50000, r2: 1, confidence: 'medium' });
      expect(p.basis).toBe('least-squares line through 10 storage snapshots of the last 180 days: 50000.0 bytes/day (r² 1.0000)');
      expect(p.p6 - p.cur).toBe(50000 * 182.5);
      expect(p.p12 - p.cur).toBe(50000 * 365);

      // Enough well-fitting points: high confidence. A shrinking history is projected flat, not negative.
      await c.query(`TRUNCATE pggit.storage_snapshots`);
      await c.query(`INSERT INTO pggit.storage_snapshots (taken_at, total_bytes, history_rows)
                     SELECT now() - make_interval(days => 20 - i), 2000000 + 50000 * i, 0 FROM generate_series(0, 19) i`);
      expect(await projection()).toMatchObject({ snapshots: 20, rate: 50000, confidence: 'high' });
      await c.query(`TRUNCATE pggit.storage_snapshots`);
      await c.query(`INSERT INTO pggit.storage_snapshots (taken_at, total_bytes, history_rows)
                     SELECT now() - make_interval(days => 10 - i), 5000000 - 1000 * i, 0 FROM generate_series(0, 9) i`);
      p = await projection();
      expect(p.rate).toBe(-1000);
      expect(p.p12).toBe(p.cur);
      expect(p.basis).toMatch(/storage shrank over the period, projected flat$/);
    });
  });

  it('recommends cleanup and partitioning in scaling_bottlenecks from real history counts', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      await c.query(`INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, change_timestamp)
                     SELECT 'table', 'public.s' || g, 'ALTER', 'MINOR', now() - interval '100 days' FROM generate_series(1, 60000) g`);
      const rows = (await c.query(`SELECT component, current_load::float8 AS load, recommendation FROM pggit.scaling_bottlenecks`)).rows;
      const total = Number((await c.query(`SELECT count(*) FROM pggit.history`)).rows[0].count);
      expect(rows).toContainEqual({ component: 'History Table', load: total, recommendation: 'Schedule regular cleanup' });
      expect(rows).toContainEqual({ component: 'History Beyond Retention', load: 60000, recommendation: 'CALL pggit.cleanup_history() (retention 90 days)' });
      expect(rows.map((r) => r.component)).toEqual([
        'Event Triggers', 'Event Trigger Mean Time (ms)', 'DDL Changes (24h)', 'History Table', 'History Beyond Retention', 'Dead Tuples (pggit tables)', 'Storage Overhead %',
      ]);
    });
  });
});

describe('pggit.metrics_for_grafana', () => {
  it('returns the guide\'s metrics, correctly computed, plus the last day\'s activity, stamped in UTC', async () => {
    const db = await pggitDatabase();
    await withPgClient(db, async (c) => {
      await c.query(`INSERT INTO pggit.tracking_errors (message, occurred_at) VALUES ('recent', now() - interval '1 hour'), ('old', now() - interval '3 days')`);
      await c.query(`INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, change_timestamp)
                     VALUES ('table', 'public.a', 'ALTER', 'MINOR', now() - interval '2 days')`);
      const result = await c.query(`SELECT * FROM pggit.metrics_for_grafana()`);
      expect(result.fields.map((f) => [f.name, f.dataTypeID])).toEqual([['metric_name', 25], ['metric_value', 1700], ['timestamp', 1114]]);
      const m = Object.fromEntries(result.rows.map((r) => [r.metric_name, Number(r.metric_value)]));

      const expected = (
        await c.query(`SELECT (SELECT count(*) FROM pggit.objects)::int AS objects,
                              (SELECT count(*) FROM pggit.history)::int AS history,
                              (SELECT count(*) FROM pggit.history WHERE change_timestamp > now() - interval '24 hours')::int AS history_24h`)
      ).rows[0];
      const bytes = await pggitBytes(c);
      expect(m).toMatchObject({
        pggit_objects_tracked: expected.objects,
        pggit_history_records: expected.history,
        pggit_storage_bytes: bytes,
        pggit_storage_mb: Math.round((bytes / 1048576) * 100) / 100,
        pggit_history_records_24h: expected.history_24h,
        pggit_tracking_errors_24h: 1,
      });
      expect(expected.history_24h).toBe(expected.history - 1);
      // UTC whatever the session's time zone: compared as text within one statement (one now()).
      await c.query(`SET TIME ZONE 'Asia/Tokyo'`);
      const stamps = await c.query(`SELECT DISTINCT m."timestamp"::text AS ts, (now() AT TIME ZONE 'UTC')::text AS utc FROM pggit.metrics_for_grafana() m`);
      expect(stamps.rows).toHaveLength(1);
      expect(stamps.rows[0].ts).toBe(stamps.rows[0].utc);
    });
  });
});

describe('pggit.generate_contribution_metrics', () => {
  it('bundles versions, migrations, settings and counts, and no secret', async () => {
    const db = await pggitDatabase();
    const secret = 'fake-pw-7731';
    try {
      await withPgClient(db, async (c) => {
        await c.query(`ALTER SYSTEM SET archive_command = 'PGPASSWORD=archive-${secret} scp %p backup:/wal/%f'`);
        await c.query(`ALTER SYSTEM SET restore_command = 'PGPASSWORD=restore-${secret} scp backup:/wal/%f %p'`);
        await c.query(`SELECT pg_reload_conf()`);
        await c.query(`ALTER DATABASE ${c.escapeIdentifier(db.database)} SET app.api_password = 'guc-${secret}'`);
        await c.query(`CREATE ROLE contrib_role LOGIN PASSWORD 'role-${secret}'`);
        // DDL whose text carries a password, in case tracking records it.
        await c.query(`CREATE FOREIGN DATA WRAPPER contrib_fdw`);
        await c.query(`CREATE SERVER contrib_srv FOREIGN DATA WRAPPER contrib_fdw`);
        await c.query(`CREATE USER MAPPING FOR CURRENT_USER SERVER contrib_srv OPTIONS (user 'app', password 'mapping-${secret}')`);
        await c.query(`INSERT INTO pggit.tracking_errors (command_tag, statement, sqlstate, message, detail, context) VALUES
                         ('CREATE SERVER', 'CREATE SERVER x OPTIONS (password ''stmt-${secret}'')', 'XX000',
                          'could not reach postgresql://ops:url-${secret}@db.internal/app (password=kv-${secret})', 'detail-${secret}', 'context-${secret}')`);
      });
      const bundle = await until(
        () => rowsOf(db, `SELECT pggit.generate_contribution_metrics() AS b, current_setting('restore_command') AS rc`),
        (rows) => String(rows[0]!.rc).includes(secret),
        'the reloaded restore_command',
      ).then((rows) => rows[0]!.b as Record<string, any>);

      // The secrets are on the server, readable by this superuser ...
      const visible = await rowsOf(db, `SELECT (SELECT string_agg(setting, ' ') FROM pg_file_settings WHERE name LIKE '%_command') AS files,
                                               current_setting('app.api_password') AS guc`);
      expect(visible[0]!.files).toContain(`archive-${secret}`);
      expect(visible[0]!.guc).toBe(`guc-${secret}`);
      // ... and none of them is in the bundle.
      expect(JSON.stringify(bundle)).not.toContain(secret);

      expect(bundle.postgresql.version).toMatch(/^PostgreSQL 15\./);
      expect(bundle.postgresql.server_version_num).toBeGreaterThanOrEqual(150000);
      const sqlFiles = readdirSync(defaultMigrationsDir).filter((f) => f.endsWith('.sql')).sort();
      expect(bundle.pggit_ops_migrations.available).toBe(true);
      expect(bundle.pggit_ops_migrations.applied.map((m: { name: string }) => m.name)).toEqual(sqlFiles);
      expect(bundle.pggit_ops_migrations.applied[0]).toEqual({ name: sqlFiles[0], checksum: expect.stringMatching(/^[0-9a-f]{64}$/), applied_at: expect.any(String) });
      expect(bundle.settings).toMatchObject({ retention_days: 90, batch_size: 1000 });
      expect(bundle.server_settings).toMatchObject({ track_functions: 'none', wal_level: expect.any(String), archive_mode: 'off', max_connections: expect.any(String) });
      expect(bundle.server_settings).not.toHaveProperty('archive_command');
      expect(bundle.server_settings_presence).toMatchObject({ restore_command_set: true, archive_command_set: false });
      expect(bundle.tracking_errors.recent).toContainEqual({
        occurred_at: expect.any(String), sqlstate: 'XX000', message: 'could not reach postgresql://[REDACTED]@db.internal/app (password=[REDACTED]',
      });
      const counts = await rowsOf(db, `SELECT (SELECT count(*) FROM pggit.history)::int AS h, (SELECT count(*) FROM pggit.objects WHERE is_active)::int AS o,
                                              (SELECT count(*) FROM pggit.tracking_errors)::int AS e`);
      expect(bundle.tracking_errors.total).toBe(counts[0]!.e);
      expect(bundle.history.total).toBe(counts[0]!.h);
      const active = Object.values(bundle.objects_by_type as Record<string, { active: number }>).reduce((a, t) => a + t.active, 0);
      expect(active).toBe(counts[0]!.o);
      expect(bundle.health_check.some((r: { status: string }) => r.status === 'NOT INSTALLED')).toBe(true);

      // Installs from before the migration ledger still get a bundle.
      await rowsOf(db, `ALTER SCHEMA pggit_ops RENAME TO pggit_ops_hidden`);
      const older = (await rowsOf(db, `SELECT pggit.generate_contribution_metrics() AS b`))[0]!.b as Record<string, any>;
      expect(older.pggit_ops_migrations).toEqual({ available: false, note: expect.stringContaining('does not exist') });
    } finally {
      await withPgClient(db, async (c) => {
        await c.query(`ALTER SYSTEM RESET archive_command`);
        await c.query(`ALTER SYSTEM RESET restore_command`);
        await c.query(`SELECT pg_reload_conf()`);
        await c.query(`DROP USER MAPPING IF EXISTS FOR CURRENT_USER SERVER contrib_srv`);
        await c.query(`DROP ROLE IF EXISTS contrib_role`);
      });
    }
  });
});
