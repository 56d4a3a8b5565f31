// The weekly checklist items (activities/checks/weekly) on real clusters: Pagila with pggit installed
// afterwards, clean runs that raise nothing, then each problem planted for real (a function slowed
// down between two snapshots with track_functions = pl, a table with autovacuum off and most rows
// deleted, superuser and password-only roles, grants between two runs, DDL with and without
// pggit's event triggers, storage snapshots that grow) and found with its evidence. Roles are
// cluster-wide: each test names its own with a random suffix and drops them afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { StepResult } from '../../activities/checks/define.ts';
import { capacityProjection } from '../../activities/checks/weekly/capacity-projection.ts';
import { weeklyChecks } from '../../activities/checks/weekly/index.ts';
import { performanceTrends } from '../../activities/checks/weekly/performance-trends.ts';
import { schemaDrift } from '../../activities/checks/weekly/schema-drift.ts';
import { securityAudit } from '../../activities/checks/weekly/security-audit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from '../support/postgres.ts';
import { codes, connectForTest, pagilaEnv, problems, runCheck, until } from './context.ts';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.stop());

const pagila = (ledgerIn: 'target' | 'own database') => pagilaEnv(server, 'weekly', ledgerIn);

const only = (r: StepResult, code: string) => r.findings.filter((f) => f.code === code);


/** Runs statements in a new session (which picks up ALTER DATABASE settings) and flushes its statistics. */
const session = (conn: PgConnection, ...statements: string[]) =>
  withPgClient(conn, async (c) => {
    for (const sql of statements) await c.query(sql);
    await c.query(`SELECT pg_stat_force_next_flush()`);
  });

describe('a clean Pagila database', () => {
  it('gives no warning or critical finding on a first and a second run, once schema public is as PostgreSQL 15 creates it', async () => {
    const env = await pagila('target');
    // Pagila is a dump of an older server, which let every role create objects in schema public;
    // that is a real finding, and the only one.
    const shipped = await runCheck(securityAudit, await env.ctx());
    expect(problems(shipped)).toEqual(['warning public_schema_create']);
    expect(only(shipped, 'public_schema_create')[0]!.details).toEqual({ schema: 'public', grantee: 'PUBLIC', privilege: 'CREATE' });
    await env.db.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);

    const first: Record<string, StepResult> = {};
    for (const check of weeklyChecks) first[check.name] = await runCheck(check, await env.ctx());
    expect(Object.keys(first)).toEqual(['performanceTrends', 'securityAudit', 'schemaDrift', 'capacityProjection']);
    for (const result of Object.values(first)) expect(problems(result)).toEqual([]);
    expect(codes(first.performanceTrends!)).toEqual(['info baseline_taken', 'info track_functions_off']);
    expect(codes(first.schemaDrift!)).toEqual(['info baseline_recorded']);
    expect(codes(first.capacityProjection!)).toEqual(['info capacity_projection']);
    // The bootstrap superuser's password never expires: said, not alarmed.
    expect(only(first.securityAudit!, 'password_never_expires')).toEqual([
      expect.objectContaining({ severity: 'info', details: expect.objectContaining({ role: 'postgres', bootstrap_superuser: true }) }),
    ]);
    expect(only(first.securityAudit!, 'log_settings')[0]!.details).toMatchObject({ log_connections: 'off', log_statement: 'none' });

    for (const check of weeklyChecks) expect(problems(await runCheck(check, await env.ctx()))).toEqual([]);
    expect(codes(await runCheck(schemaDrift, await env.ctx()))).toEqual(['info schema_matches_baseline']);
  });
});

describe('performanceTrends', () => {
  it('finds a function that got slower between two snapshots and a table bloated with dead tuples', async () => {
    const env = await pagila('own database');
    await env.db.query(`ALTER DATABASE ${pg.escapeIdentifier(env.conn.database)} SET track_functions = 'pl'`);
    await env.db.query(`CREATE SCHEMA "Äpp data"`);
    await env.db.query(`CREATE FUNCTION "Äpp data"."slow fn"(delay float8) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(delay); END $$`);
    await env.db.query(`CREATE TABLE "Äpp data"."bloated ""t""" (id int, pad text) WITH (autovacuum_enabled = false)`);
    await session(
      env.conn,
      `INSERT INTO "Äpp data"."bloated ""t""" SELECT g, md5(g::text) FROM generate_series(1, 50000) g`,
      `DELETE FROM "Äpp data"."bloated ""t""" WHERE id > 10000`,
      `SELECT "Äpp data"."slow fn"(0.002) FROM generate_series(1, 20)`,
    );

    const fn = '"Äpp data"."slow fn"(delay double precision)';
    // Each step connects anew, as a worker does, so its session has the database's track_functions.
    const first = await env.ctx();
    const baseline = await until(
      () => runCheck(performanceTrends, first),
      (r) => (r.data as { functions: number }).functions > 0 && only(r, 'table_bloat').length > 0,
    );
    expect(codes(baseline)).toEqual(['info baseline_taken', 'warning table_bloat']);
    expect(only(baseline, 'table_bloat')[0]).toEqual({
      code: 'table_bloat',
      severity: 'warning',
      message: '"Äpp data"."bloated ""t""" has 40000 dead tuples (80% of its rows, above 20%); autovacuum is disabled on it',
      details: {
        table: '"Äpp data"."bloated ""t"""',
        n_live_tup: 10000,
        n_dead_tup: 40000,
        dead_ratio: 0.8,
        autovacuum_enabled: false,
        last_vacuum: null,
        last_autovacuum: null,
        command: 'VACUUM (ANALYZE) "Äpp data"."bloated ""t"""',
      },
    });

    await session(env.conn, `SELECT "Äpp data"."slow fn"(0.03) FROM generate_series(1, 20)`);
    const second = await env.ctx();
    const trend = await until(
      () => runCheck(performanceTrends, second),
      (r) => only(r, 'function_regression').length > 0,
    );
    expect(codes(trend)).toEqual(['warning function_regression', 'warning table_bloat']);
    const regression = only(trend, 'function_regression')[0]!;
    expect(regression.message).toMatch(/^"Äpp data"\."slow fn"\(delay double precision\) took \d+\.\d+ ms per call over 20 calls in the last [\d.]+ h, up \d+(\.\d)?% from 2\.\d+ ms$/);
    const d = regression.details as Record<string, number>;
    expect(d).toMatchObject({ function: fn, calls_before: 20, calls_interval: 20, regression_percent: 50, previous_run: first.runId });
    expect(d.mean_before_ms).toBeGreaterThanOrEqual(2);
    expect(d.mean_interval_ms).toBeGreaterThanOrEqual(30);
    expect(d.increase_percent).toBeCloseTo((100 * (d.mean_interval_ms! - d.mean_before_ms!)) / d.mean_before_ms!, 0);

    // Thresholds are the runbook's; the same step again compares with the same previous run.
    expect(codes(await runCheck(performanceTrends, second, { regression_percent: 100_000, min_dead_tuples: 50_000 }))).toEqual([]);
    const rows = await env.ledger.query(`SELECT run_id, kind, count(*)::int AS n FROM pggit_ops.stat_snapshots WHERE name IN ($1, $2) GROUP BY 1, 2 ORDER BY 2, 1`, [
      fn,
      '"Äpp data"."bloated ""t"""',
    ]);
    expect(rows.rows).toEqual(
      expect.arrayContaining([
        { run_id: first.runId, kind: 'function', n: 1 },
        { run_id: second.runId, kind: 'function', n: 1 },
        { run_id: first.runId, kind: 'table', n: 1 },
        { run_id: second.runId, kind: 'table', n: 1 },
      ]),
    );
    expect(rows.rows).toHaveLength(4);
  });
});

describe('securityAudit', () => {
  it('reports superusers, non-expiring passwords, powerful roles, PUBLIC access and new grants between runs', async () => {
    const env = await pagila('own database');
    await env.db.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    const sfx = randomBytes(3).toString('hex');
    const role = {
      suLogin: `su login ${sfx}`,
      suNoLogin: `sü "nologin" ${sfx}`,
      app: `app ü ${sfx}`,
      expiring: `expiring ${sfx}`,
      admin: `admin ${sfx}`,
    };
    const id = (name: string) => pg.escapeIdentifier(name);
    onTestFinished(() =>
      withPgClient(env.conn, async (c) => {
        const all = Object.values(role).map(id).join(', ');
        await c.query(`DROP OWNED BY ${all}`);
        await c.query(`DROP ROLE ${all}`);
      }),
    );
    await env.db.query(`CREATE ROLE ${id(role.suLogin)} SUPERUSER LOGIN`);
    await env.db.query(`CREATE ROLE ${id(role.suNoLogin)} SUPERUSER NOLOGIN`);
    await env.db.query(`CREATE ROLE ${id(role.app)} LOGIN PASSWORD 'app-secret'`);
    await env.db.query(`CREATE ROLE ${id(role.expiring)} LOGIN PASSWORD 'expiring-secret' VALID UNTIL '2999-01-01'`);
    await env.db.query(`CREATE ROLE ${id(role.admin)} NOLOGIN CREATEROLE BYPASSRLS`);

    const about = (r: StepResult, name: string) => r.findings.filter((f) => (f.details as { role?: string } | undefined)?.role === name).map((f) => `${f.severity} ${f.code}`);
    const first = await runCheck(securityAudit, await env.ctx());
    expect(about(first, role.suLogin)).toEqual(['critical superuser_role']);
    expect(about(first, role.suNoLogin)).toEqual(['warning superuser_role']);
    expect(about(first, role.app)).toEqual(['warning password_never_expires']);
    expect(about(first, role.expiring)).toEqual([]);
    expect(about(first, role.admin)).toEqual(['warning powerful_role']);
    expect(only(first, 'powerful_role')[0]!.details).toMatchObject({ attributes: ['CREATEROLE', 'BYPASSRLS'], can_login: false });
    expect(only(first, 'password_never_expires').find((f) => f.severity === 'warning')!.message).toBe(
      `${role.app} can log in with a password that never expires (no VALID UNTIL)`,
    );
    expect(codes(first)).toContain('info privileges_baseline');
    expect(JSON.stringify(first)).not.toMatch(/secret|SCRAM/);

    const accepting = await runCheck(securityAudit, await env.ctx(), { accepted_roles: [role.suNoLogin, role.admin] });
    expect(about(accepting, role.suNoLogin)).toEqual(['info superuser_role']);
    expect(about(accepting, role.admin)).toEqual(['info powerful_role']);
    expect(about(accepting, role.suLogin)).toEqual(['critical superuser_role']);

    await env.db.query(`GRANT SELECT ON public.film TO ${id(role.app)}`);
    await env.db.query(`GRANT UPDATE (title) ON public.film TO ${id(role.app)}`);
    await env.db.query(`GRANT pg_read_all_data TO ${id(role.app)}`);
    await env.db.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${id(role.app)}`);
    await env.db.query(`GRANT SELECT ON public.customer TO PUBLIC`);
    const second = await runCheck(securityAudit, await env.ctx());
    const granted = only(second, 'new_grant');
    expect(granted.map((f) => [f.severity, (f.details as { grantee: string }).grantee])).toEqual([
      ['warning', role.app],
      ['warning', 'PUBLIC'],
    ]);
    expect(granted[1]!.details).toMatchObject({ granted: ['SELECT on table public.customer'], omitted: 0 });
    expect(granted[0]!.details).toMatchObject({
      granted: [
        'SELECT on new objects (default privileges for role postgres in schema public on tables)',
        'MEMBER on role pg_read_all_data',
        'SELECT on table public.film',
        'UPDATE on table column public.film.title',
      ],
    });
    expect(only(second, 'public_table_access')).toEqual([
      expect.objectContaining({ severity: 'warning', details: { grants: { items: ['SELECT on table public.customer'], omitted: 0 } } }),
    ]);

    const third = await runCheck(securityAudit, await env.ctx());
    expect(only(third, 'new_grant')).toEqual([]);
    await env.db.query(`REVOKE SELECT ON public.customer FROM PUBLIC`);
    const fourth = await runCheck(securityAudit, await env.ctx());
    expect(only(fourth, 'public_table_access')).toEqual([]);
    expect(only(fourth, 'grants_revoked')[0]).toMatchObject({
      severity: 'info',
      details: { revoked: { items: ['SELECT on table public.customer from PUBLIC'], omitted: 0 } },
    });

    // Run by a role that cannot read pg_authid: it says what it could not check instead of passing.
    const limited = await connectForTest({ ...env.conn, user: role.expiring, password: 'expiring-secret' });
    const partial = await runCheck(securityAudit, await env.ctx({ db: limited }));
    expect(only(partial, 'password_never_expires')).toEqual([]);
    expect(only(partial, 'password_check_unavailable')).toEqual([
      expect.objectContaining({
        severity: 'info',
        details: { roles: { items: expect.arrayContaining(['postgres', role.app, role.suLogin]), omitted: 0 } },
      }),
    ]);
    expect(about(partial, role.suLogin)).toEqual(['critical superuser_role']);
  });
});

describe('schemaDrift', () => {
  it('records a baseline, then reports tracked changes against it and DDL made while tracking was off', async () => {
    const env = await pagila('own database');
    const first = await env.ctx();
    expect(codes(await runCheck(schemaDrift, first))).toEqual(['info baseline_recorded']);
    expect(codes(await runCheck(schemaDrift, first))).toEqual(['info baseline_recorded']); // a retry
    expect((await env.ledger.query(`SELECT run_id, target FROM pggit_ops.schema_baselines`)).rows).toEqual([{ run_id: first.runId, target: 'pagila' }]);

    await env.db.query(`ALTER TABLE public.film ADD COLUMN "Ünïcode ""col""" text`);
    await env.db.query(`DROP VIEW public.actor_info`);
    const tracked = await runCheck(schemaDrift, await env.ctx());
    expect(codes(tracked)).toEqual(['warning objects_added', 'warning objects_changed', 'warning objects_removed']);
    const lastChange = (statement: string) => ({ change_type: expect.any(String), role: 'postgres', at: expect.any(String), statement });
    expect(only(tracked, 'objects_added')[0]!.details).toMatchObject({
      count: 1,
      objects: [{ full_name: 'public.film."Ünïcode ""col"""', type: 'table column', version: '1.0.0', last_change: lastChange('ALTER TABLE public.film ADD COLUMN "Ünïcode ""col""" text') }],
    });
    expect(only(tracked, 'objects_changed')[0]!.details).toMatchObject({
      count: 1,
      objects: [{ full_name: 'public.film', type: 'table', version_before: '1.0.0', version_after: '1.1.0', definition_changed: true }],
    });
    expect(only(tracked, 'objects_removed')[0]!.details).toMatchObject({
      objects: [{ full_name: 'public.actor_info', type: 'view', version: '1.0.0', last_change: { change_type: 'DROP', statement: 'DROP VIEW public.actor_info' } }],
    });

    await env.db.query(`ALTER EVENT TRIGGER pggit_ddl_command_end DISABLE`);
    await env.db.query(`ALTER EVENT TRIGGER pggit_sql_drop DISABLE`);
    await env.db.query(`ALTER TABLE public.actor ADD COLUMN nickname text`);
    await env.db.query(`CREATE TABLE public."shadow ü" (id int)`);
    const untracked = await runCheck(schemaDrift, await env.ctx());
    expect(codes(untracked)).toEqual([
      'warning objects_added',
      'warning objects_changed',
      'warning objects_removed',
      'warning tracking_off',
      'warning untracked_change',
    ]);
    expect(only(untracked, 'tracking_off')[0]!.details).toMatchObject({
      event_triggers: [expect.objectContaining({ name: 'pggit_ddl_command_end' }), expect.objectContaining({ name: 'pggit_sql_drop' })],
    });
    const drifted = (only(untracked, 'untracked_change')[0]!.details as { objects: Array<{ full_name: string; check: string }> }).objects;
    expect(drifted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ full_name: 'public.actor', check: 'definition drift' }),
        expect.objectContaining({ full_name: 'public.actor.nickname', check: 'untracked object' }),
        expect.objectContaining({ full_name: 'public."shadow ü"', check: 'untracked object' }),
      ]),
    );
    expect(only(untracked, 'untracked_change')[0]!.details).toMatchObject({ count: drifted.length, omitted: 0 });
    expect(only(await runCheck(schemaDrift, await env.ctx(), { max_listed: 1 }), 'untracked_change')[0]!.details).toMatchObject({
      count: drifted.length,
      objects: [expect.anything()],
      omitted: drifted.length - 1,
    });

    await env.db.query(`ALTER EVENT TRIGGER pggit_ddl_command_end ENABLE`);
    await env.db.query(`ALTER EVENT TRIGGER pggit_sql_drop ENABLE`);
    const accepted = await runCheck(schemaDrift, await env.ctx(), { update_baseline: true });
    expect(codes(accepted)).toEqual(['info baseline_updated', 'warning objects_added', 'warning objects_changed', 'warning objects_removed', 'warning untracked_change']);
    // The drift pggit recorded is now the baseline; what it never saw is still reported.
    expect(codes(await runCheck(schemaDrift, await env.ctx()))).toEqual(['info schema_matches_baseline', 'warning untracked_change']);
  });
});

describe('capacityProjection', () => {
  it("warns when pggit's projected size or share passes the limits, with the projection's basis and confidence", async () => {
    const env = await pagila('target');
    const snapshot = (daysAgo: number, bytesPerDay: number) =>
      env.db.query(
        `INSERT INTO pggit.storage_snapshots (taken_at, total_bytes, history_rows)
         VALUES (now() - make_interval(days => $1), 100 * 1024 * 1024 - $1 * $2::bigint, 0)`,
        [daysAgo, bytesPerDay],
      );
    const mb = 1024 * 1024;
    for (const daysAgo of [3, 2, 1]) await snapshot(daysAgo, 2 * mb);

    const low = await runCheck(capacityProjection, await env.ctx());
    expect(codes(low)).toEqual(['info capacity_projection', 'warning pggit_share_projection_high']);
    const details = only(low, 'pggit_share_projection_high')[0]!.details as Record<string, unknown>;
    expect(details).toMatchObject({
      confidence: 'low',
      snapshots: 3,
      basis: expect.stringMatching(/^least-squares line through 3 storage snapshots of the last 180 days: [\d.]+ bytes\/day/),
      rest_of_database_basis: expect.stringMatching(/^rest of the database assumed constant \(0 of the 3 size snapshots/),
      max_share_percent: 10,
    });
    const expected = (details.pggit_bytes as number) + 365 * 2 * mb;
    expect(Math.abs((details.projected_1_year_bytes as number) / expected - 1)).toBeLessThan(0.01);
    expect(details.projected_1_year_share_percent as number).toBeGreaterThan(90);
    // A runbook may want only confident projections to warn.
    expect(codes(await runCheck(capacityProjection, await env.ctx(), { min_confidence: 'medium' }))).toEqual(['info capacity_projection', 'info pggit_share_projection_high']);

    for (let daysAgo = 4; daysAgo <= 14; daysAgo++) await snapshot(daysAgo, 2 * mb);
    const high = await runCheck(capacityProjection, await env.ctx(), { max_pggit_bytes: 100 * mb, min_confidence: 'high' });
    expect(codes(high)).toEqual(['info capacity_projection', 'warning pggit_projection_exceeds_limit', 'warning pggit_share_projection_high']);
    expect(only(high, 'pggit_projection_exceeds_limit')[0]!.message).toMatch(/^pggit is projected to reach [\d.]+ MB in 12 months, above the limit of 100 MB \(confidence high\)$/);

    // The rest of the database grows too (the ledger's daily size snapshots): pggit's share stays small.
    const { rows } = await env.db.query(`SELECT current_database() AS name, pg_database_size(current_database())::float8 AS db, pggit.storage_bytes()::float8 AS pggit`);
    const { name, db, pggit } = rows[0]!;
    for (const daysAgo of [3, 2, 1]) {
      await env.ledger.query(
        `INSERT INTO pggit_ops.stat_snapshots (target, run_id, kind, name, metrics, taken_at)
         VALUES ('pagila', $1, 'database', $2, $3, now() - make_interval(days => $4))`,
        [`earlier-${daysAgo}`, name, { database_bytes: db - daysAgo * 1024 * mb, pggit_bytes: pggit }, daysAgo],
      );
    }
    const growing = await runCheck(capacityProjection, await env.ctx(), { max_pggit_bytes: 100 * mb });
    expect(codes(growing)).toEqual(['info capacity_projection', 'warning pggit_projection_exceeds_limit']);
    expect(growing.data).toMatchObject({
      rest_of_database_bytes_per_day: expect.closeTo(1024 * mb, -3),
      rest_of_database_basis: expect.stringMatching(/^rest of the database: 1 GB\/day from 3 daily size snapshots/),
    });
    expect(() => capacityProjection.args.parse({ max_share_percent: 150 })).toThrow();
  });
});
