// The Operations Guide, section by section, as a psql user runs it (corrected where the guide is
// wrong, see docs/guide-corrections.md), against Pagila with pggit installed. Each statement goes
// through the real psql; each answer is checked against the database itself.
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBin } from '../worker/tools.ts';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';

let server: TestPostgres;
let url: string;
let client: pg.Client;

beforeAll(async () => {
  server = await startPostgres();
  const database = await server.createDatabase('guide');
  await installPggit({ ...server.connection, database });
  await loadPagila(server.url(database));
  url = server.url(database);
  client = new pg.Client({ ...server.connection, database });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await server?.stop();
});

/** Runs SQL through psql, as the guide's reader would, and returns the rows as JSON objects. */
async function psql(sql: string): Promise<Array<Record<string, unknown>>> {
  const wrapped = `SELECT coalesce(json_agg(q), '[]') FROM (${sql}) q`;
  const { stdout } = await execa(pgBin('psql'), ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', wrapped]);
  return JSON.parse(stdout);
}

async function scalar<T>(sql: string): Promise<T> {
  return (await client.query(sql)).rows[0].v as T;
}

describe('Production Deployment', () => {
  it('verifies the installation with get_version', async () => {
    expect(await psql(`SELECT pggit.get_version('pg_class') AS v`)).toEqual([{ v: null }]); // a system object: not tracked
    // Pagila was loaded after pggit: film was created, then given its keys, indexes and triggers.
    const film = await scalar<string>(`SELECT version_major || '.' || version_minor || '.' || version_patch AS v FROM pggit.objects WHERE full_name = 'public.film'`);
    expect(film).toMatch(/^1\.[1-9]\d*\.\d+$/);
    expect(await psql(`SELECT pggit.get_version('public.film') AS v`)).toEqual([{ v: film }]);
  });

  it('configures tracking and monitoring with named arguments (identifiers, not quoted strings)', async () => {
    const [tracking] = await psql(`SELECT pggit.configure_tracking(schemas => ARRAY['public', 'orders', 'users', 'inventory'],
                                                                   exclude_temp_tables => true, track_system_objects => false) AS s`);
    expect(tracking!.s).toMatchObject({ schemas: ['public', 'orders', 'users', 'inventory'], exclude_temp_tables: true, track_system_objects: false });
    const [monitoring] = await psql(`SELECT pggit.configure_monitoring(alert_threshold_ms => 1000, batch_size => 100, cleanup_interval_hours => 24) AS s`);
    expect(monitoring!.s).toMatchObject({ alert_threshold_ms: 1000, batch_size: 100, cleanup_interval_hours: 24 });
  });

  it('checks the installed features', async () => {
    const rows = await psql(`SELECT * FROM pggit.enterprise_health_check()`);
    const byComponent = Object.fromEntries(rows.map((r) => [r.component, r.status]));
    expect(Object.values(byComponent)).not.toContain('ERROR');
    expect(rows.filter((r) => r.status === 'NOT INSTALLED').length).toBe(6); // the guide's enterprise modules
  });
});

describe('Monitoring & Alerting', () => {
  it('shows the health dashboard with the real counts', async () => {
    const rows = await psql(`SELECT * FROM pggit.health_metrics`);
    const metric = (name: string) => rows.find((r) => r.metric === name)?.value;
    expect(Number(metric('Objects Tracked'))).toBe(await scalar<number>(`SELECT count(*)::int AS v FROM pggit.objects`));
    expect(Number(metric('History Records'))).toBe(await scalar<number>(`SELECT count(*)::int AS v FROM pggit.history`));
    expect(Number(metric('Storage Overhead %'))).toBeGreaterThan(0);
  });

  it('shows pggit\'s event triggers, not table triggers', async () => {
    const rows = await psql(`SELECT name, event, enabled FROM pggit.event_trigger_overhead ORDER BY name`);
    expect(rows).toEqual([
      { name: 'pggit_ddl_command_end', event: 'ddl_command_end', enabled: true },
      { name: 'pggit_sql_drop', event: 'sql_drop', enabled: true },
    ]);
  });

  it('reports function performance with a computed mean, once track_functions counts calls', async () => {
    await client.query(`SET track_functions = 'pl'`);
    for (let i = 0; i < 3; i++) await client.query(`SELECT pggit.get_version('public.film')`);
    await client.query(`SELECT pg_stat_force_next_flush()`);
    await client.query(`RESET track_functions`);
    await client.query(`SELECT pg_stat_clear_snapshot()`);
    const rows = await psql(`SELECT funcname, calls, mean_time FROM pggit.function_performance WHERE funcname = 'resolve_name'`);
    expect(rows).toEqual([{ funcname: 'resolve_name', calls: expect.any(Number), mean_time: expect.any(Number) }]);
  });

  it('runs the alert check', async () => {
    const rows = await psql(`SELECT * FROM pggit.check_performance_alerts()`);
    for (const row of rows) expect(['INFO', 'WARNING', 'CRITICAL']).toContain(row.severity);
    // Pagila plus pggit: pggit's share of the database is reported, computed as pggit.health_metrics does.
    expect(rows.some((r) => r.alert_type === 'STORAGE')).toBe(true);
  });
});

describe('Maintenance Tasks', () => {
  it('cleans history older than the retention in batches, keeping recent rows', async () => {
    await client.query(`INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, change_timestamp)
                        SELECT 'table', 'public.film', 'ALTER', 'MINOR', now() - interval '200 days' FROM generate_series(1, 250)`);
    const recent = await scalar<number>(`SELECT count(*)::int AS v FROM pggit.history WHERE change_timestamp >= now() - interval '90 days'`);
    const { stdout } = await execa(pgBin('psql'), ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', 'CALL pggit.cleanup_history()']);
    expect(stdout.trim()).toBe('250');
    expect(await scalar<number>(`SELECT count(*)::int AS v FROM pggit.history`)).toBe(recent);
  });

  it('vacuums, analyzes and reports index usage and table statistics with the real column names', async () => {
    await execa(pgBin('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', 'VACUUM ANALYZE pggit.objects', '-c', 'VACUUM ANALYZE pggit.history', '-c', 'VACUUM ANALYZE pggit.dependencies']);
    const indexes = await psql(`SELECT relname, indexrelname FROM pggit.index_usage`);
    expect(indexes).toContainEqual({ relname: 'history', indexrelname: 'history_change_timestamp_idx' });
    await client.query(`SELECT pg_stat_force_next_flush()`);
    const tables = await psql(`SELECT relname, last_vacuum IS NOT NULL AS vacuumed FROM pggit.table_statistics WHERE relname IN ('objects', 'history', 'dependencies') ORDER BY relname`);
    expect(tables).toEqual([
      { relname: 'dependencies', vacuumed: true },
      { relname: 'history', vacuumed: true },
      { relname: 'objects', vacuumed: true },
    ]);
    // REINDEX SCHEMA would block writers; the recommendations list non-blocking commands instead.
    const recommendations = await psql(`SELECT command FROM pggit.maintenance_recommendations() WHERE command IS NOT NULL`);
    for (const r of recommendations) expect(String(r.command)).not.toMatch(/^REINDEX (SCHEMA|TABLE)/);
  });
});

describe('Capacity Planning', () => {
  it('analyzes growth trends over 30 days, counting the Pagila load', async () => {
    const [trend] = await psql(`SELECT days, avg_daily_changes, peak_daily_changes, change_variability FROM pggit.growth_trend`);
    const today = await scalar<number>(`SELECT count(*)::int AS v FROM pggit.history WHERE change_timestamp >= date_trunc('day', now())`);
    expect(trend).toMatchObject({ days: 30, peak_daily_changes: today });
    expect(Number(trend!.avg_daily_changes)).toBeCloseTo(today / 30, 1);
  });

  it('projects storage from observed growth and says how it was fitted', async () => {
    const [projection] = await psql(`SELECT * FROM pggit.storage_projection`);
    expect(projection!.basis).toMatch(/too few snapshots/);
    expect(Number(projection!.current_bytes)).toBe(await scalar<number>(`SELECT pggit.storage_bytes()::float8 AS v`));
  });

  it('lists scaling bottlenecks from pggit\'s event triggers and history', async () => {
    const rows = await psql(`SELECT component, recommendation FROM pggit.scaling_bottlenecks`);
    expect(rows.map((r) => r.component)).toEqual(expect.arrayContaining(['Event Triggers', 'History Table']));
  });
});

describe('Disaster Recovery and integration', () => {
  it('verifies integrity and finds no missing dependency with the guide\'s query', async () => {
    const problems = await psql(`SELECT * FROM pggit.verify_database_integrity() WHERE status <> 'OK'`);
    expect(problems).toEqual([]);
    const missing = await psql(`
      SELECT d.dependent_object, d.dependency_object
        FROM pggit.dependencies d
        LEFT JOIN pggit.objects o1 ON d.dependent_object = o1.full_name
        LEFT JOIN pggit.objects o2 ON d.dependency_object = o2.full_name
       WHERE o1.id IS NULL OR o2.id IS NULL`);
    expect(missing).toEqual([]);
  });

  it('exports Grafana metrics and a support bundle', async () => {
    const metrics = await psql(`SELECT metric_name, metric_value FROM pggit.metrics_for_grafana()`);
    const value = (name: string) => Number(metrics.find((m) => m.metric_name === name)?.metric_value);
    expect(value('pggit_objects_tracked')).toBe(await scalar<number>(`SELECT count(*)::int AS v FROM pggit.objects`));
    expect(value('pggit_storage_mb')).toBeCloseTo((await scalar<number>(`SELECT pggit.storage_bytes()::float8 AS v`)) / 1024 / 1024, 2);
    const [bundle] = await psql(`SELECT pggit.generate_contribution_metrics() AS b`);
    expect(bundle!.b).toEqual(expect.objectContaining({ postgresql: expect.anything() }));
  });
});
