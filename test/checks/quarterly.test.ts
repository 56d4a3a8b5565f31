// The quarterly checklist's checks on a real throwaway cluster: a clean Pagila database reports
// only what Pagila really has, and planted problems are found: spilling sorts, requested
// checkpoints, autovacuum left behind, weak authentication settings, a SECURITY DEFINER function
// without search_path, unattributed DDL, tracking errors, broken integrity, missing checklist runs,
// outdated extensions and unapplied migrations. What a test cluster cannot have (a `trust` line in
// pg_hba.conf, an end-of-life server) is tested through the pure functions that judge them.
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../activities/checks/define.ts';
import { complianceAudit } from '../../activities/checks/quarterly/compliance-audit.ts';
import { quarterlyChecks } from '../../activities/checks/quarterly/index.ts';
import { classifyHbaRule, securityAssessment, type HbaRule } from '../../activities/checks/quarterly/security-assessment.ts';
import { assessServerVersion, techStack } from '../../activities/checks/quarterly/tech-stack.ts';
import { tuningReview } from '../../activities/checks/quarterly/tuning-review.ts';
import { projectRoot } from '../../worker/tools.ts';
import { startPostgres, withPgClient, type TestPostgres } from '../support/postgres.ts';
import { pggitDatabase, problems, runCheck, withCheckContext, type TestCheckContext } from './context.ts';

let pgs: TestPostgres;

beforeAll(async () => {
  pgs = await startPostgres();
});
afterAll(() => pgs?.stop());

const database = (prefix: string, pagila = false) => pggitDatabase(pgs, prefix, pagila);

/** The run this step belongs to, as the runbook workflow records it before its first step. */
const recordCurrentRun = (ctx: TestCheckContext) =>
  ctx.ledger.query(`INSERT INTO pggit_ops.runs (run_id, runbook, target, initiator) VALUES ($1, 'quarterly', $2, 'test')`, [ctx.runId, ctx.target]);

const codes = (findings: Finding[]) => findings.map((f) => `${f.severity} ${f.code}`);

describe('a clean Pagila database', () => {
  it('gives no warning or critical from any quarterly check but what Pagila really has', async () => {
    const db = await database('clean', true);
    const problemsOfAll = () =>
      withCheckContext(db, async (ctx) => {
        await recordCurrentRun(ctx);
        const found: Record<string, string[]> = {};
        for (const check of quarterlyChecks) found[check.name] = problems(await runCheck(check, ctx));
        return found;
      });
    // Pagila predates PostgreSQL 15's safer defaults: PUBLIC may create in schema public, and
    // rewards_report is SECURITY DEFINER with no search_path. Both are real findings.
    expect(await problemsOfAll()).toEqual({
      tuningReview: [],
      securityAssessment: ['warning public_create_on_schema', 'warning security_definer_search_path'],
      complianceAudit: [],
      techStack: [],
    });
    await withPgClient(db, async (c) => {
      await c.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      await c.query(`ALTER FUNCTION public.rewards_report(integer, numeric) SET search_path = pg_catalog, public`);
    });
    expect(await problemsOfAll()).toEqual({ tuningReview: [], securityAssessment: [], complianceAudit: [], techStack: [] });
  });
});

describe('tuningReview', () => {
  it('reads the settings against the statistics: spilling sorts, requested checkpoints, autovacuum left behind', async () => {
    const db = await database('tuning');
    await withPgClient(db, async (c) => {
      await c.query(`SET work_mem = '64kB'`);
      await c.query(`SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC`);
      await c.query(`CREATE TABLE "Dead ""rows""" (id int) WITH (autovacuum_enabled = false)`);
      await c.query(`INSERT INTO "Dead ""rows""" SELECT generate_series(1, 10000)`);
      await c.query(`DELETE FROM "Dead ""rows""" WHERE id > 2000`);
      for (let i = 0; i < 12; i++) await c.query('CHECKPOINT');
      await c.query(`SELECT pg_stat_force_next_flush()`);
    });
    try {
      const result = await withCheckContext(db, (ctx) =>
        runCheck(tuningReview, ctx, { temp_bytes_warning: 1, min_cache_hit_ratio: 1, min_blocks_for_hit_ratio: 0 }),
      );
      expect(problems(result)).toEqual(['warning temp_files', 'warning checkpoints_requested', 'warning autovacuum_behind']);
      const byCode = Object.fromEntries(result.findings.map((f) => [f.code, f]));
      for (const f of result.findings) expect(Object.keys(f.details!)).toEqual(['setting', 'current', 'evidence', 'suggestion']);

      expect(byCode.temp_files!.details).toMatchObject({ setting: 'work_mem', current: '4MB', evidence: { temp_files: expect.any(Number) } });
      expect(byCode.temp_files!.message).toMatch(/^work_mem = 4MB: queries spilled to \d+ temporary files, [\d.]+ [kMG]?B in all \([\d.]+ [kMG]?B on average\); set log_temp_files/);
      expect(byCode.checkpoints_requested!.details).toMatchObject({ setting: 'max_wal_size', current: '1GB', evidence: { checkpoints_req: expect.any(Number) } });
      expect((byCode.checkpoints_requested!.details!.evidence as { checkpoints_req: number }).checkpoints_req).toBeGreaterThanOrEqual(12);
      expect(byCode.autovacuum_behind!.details).toMatchObject({
        setting: 'autovacuum_vacuum_scale_factor',
        current: '0.2',
        evidence: { tables: [{ table: 'public."Dead ""rows"""', n_dead_tup: '8000', trigger_at: '50', table_autovacuum_enabled: false }] },
      });
      expect(byCode.autovacuum_behind!.message).toContain('autovacuum is disabled by storage parameter on public."Dead ""rows"""');
      // With the threshold at 100%, any miss at all is reported; shared_buffers exceeds these small databases.
      expect(byCode.cache_hit_ratio_low).toMatchObject({ severity: 'info', details: { setting: 'shared_buffers', current: '128MB' } });
      expect(codes(result.findings)).toEqual(expect.arrayContaining(['info track_functions_off', 'info track_io_timing_off']));
    } finally {
      // pg_stat_bgwriter is cluster-wide: later tests must not inherit these checkpoints.
      await withPgClient(db, (c) => c.query(`SELECT pg_stat_reset_shared('bgwriter')`));
    }
  });
});

describe('securityAssessment', () => {
  it('classifies pg_hba.conf lines: trust, cleartext password, md5, any address, invalid lines', () => {
    const rule = (r: Partial<HbaRule>): HbaRule => ({
      line_number: 7, type: 'host', database: ['all'], user_name: ['all'], address: '10.0.0.0', netmask: '255.0.0.0', auth_method: 'scram-sha-256', error: null, ...r,
    });
    expect(classifyHbaRule(rule({}))).toEqual([]);
    expect(codes(classifyHbaRule(rule({ auth_method: 'trust' })))).toEqual(['critical hba_trust']);
    expect(codes(classifyHbaRule(rule({ auth_method: 'trust', address: '127.0.0.1', netmask: '255.255.255.255' })))).toEqual(['warning hba_trust']);
    expect(codes(classifyHbaRule(rule({ type: 'local', address: null, netmask: null, auth_method: 'trust' })))).toEqual(['warning hba_trust']);
    expect(codes(classifyHbaRule(rule({ auth_method: 'password' })))).toEqual(['warning hba_cleartext_password']);
    expect(codes(classifyHbaRule(rule({ type: 'hostssl', auth_method: 'password' })))).toEqual(['info hba_cleartext_password']);
    expect(codes(classifyHbaRule(rule({ auth_method: 'md5' })))).toEqual(['info hba_md5']);
    expect(codes(classifyHbaRule(rule({ address: '0.0.0.0', netmask: '0.0.0.0' })))).toEqual(['warning hba_any_address']);
    expect(codes(classifyHbaRule(rule({ address: '::', netmask: '::' })))).toEqual(['warning hba_any_address']);
    expect(codes(classifyHbaRule(rule({ address: 'all', netmask: null, auth_method: 'trust' })))).toEqual(['critical hba_trust', 'warning hba_any_address']);
    expect(codes(classifyHbaRule(rule({ address: '0.0.0.0', netmask: '0.0.0.0', auth_method: 'reject' })))).toEqual([]);
    expect(classifyHbaRule(rule({ type: null, auth_method: null, error: 'invalid authentication method "trsut"' }))).toEqual([
      expect.objectContaining({ code: 'hba_line_error', severity: 'warning', message: 'pg_hba.conf line 7 is invalid: invalid authentication method "trsut"' }),
    ]);
  });

  it("reads our cluster's pg_hba.conf rules (all SCRAM), and says so when a non-superuser cannot", async () => {
    const db = await database('hba');
    const clean = await withCheckContext(db, (ctx) => runCheck(securityAssessment, ctx));
    const hba = clean.data!.hba as { readable: boolean; rules: HbaRule[] };
    expect(hba.readable).toBe(true);
    expect(hba.rules.length).toBeGreaterThan(0);
    expect(new Set(hba.rules.map((r) => r.auth_method))).toEqual(new Set(['scram-sha-256']));
    expect(problems(clean)).toEqual([]);
    expect(codes(clean.findings)).toEqual(['info ssl_off']);

    const role = `auditor_${randomBytes(3).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await withPgClient(db, (c) => c.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD '${password}'`));
    try {
      const asAuditor = { ...db, user: role, password };
      const limited = await withCheckContext(asAuditor, (ctx) => runCheck(securityAssessment, ctx));
      expect(codes(limited.findings)).toEqual(['info ssl_off', 'info hba_unreadable']);
      expect(limited.data!.hba).toMatchObject({ readable: false, rules: [] });
    } finally {
      await withPgClient(db, (c) => c.query(`DROP ROLE ${pg.escapeIdentifier(role)}`));
    }
  });

  it('finds weak password encryption, extra superusers, PUBLIC CREATE and SECURITY DEFINER functions without search_path', async () => {
    const db = await database('security');
    const superuser = `Super "user" ${randomBytes(3).toString('hex')}`;
    await withPgClient(db, async (c) => {
      await c.query(`CREATE ROLE ${pg.escapeIdentifier(superuser)} SUPERUSER`);
      await c.query(`CREATE SCHEMA "Sec ""x"""`);
      await c.query(`GRANT CREATE ON SCHEMA "Sec ""x""" TO PUBLIC`);
      await c.query(`CREATE FUNCTION "Sec ""x"""."Open door"(a int) RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT a'`);
      await c.query(`CREATE FUNCTION "Sec ""x""".closed(a int) RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS 'SELECT a'`);
    });
    try {
      const result = await withCheckContext(db, async (ctx) => {
        await ctx.db.query(`SET password_encryption = 'md5'`);
        return runCheck(securityAssessment, ctx);
      });
      expect(problems(result)).toEqual(['warning password_encryption', 'warning too_many_superusers', 'warning public_create_on_schema', 'warning security_definer_search_path']);
      const byCode = Object.fromEntries(result.findings.map((f) => [f.code, f]));
      expect(byCode.password_encryption!.details).toEqual({ setting: 'password_encryption', current: 'md5', expected: 'scram-sha-256' });
      expect(byCode.too_many_superusers!.details).toMatchObject({ superusers: expect.arrayContaining([{ role: superuser, login: false }]), max: 1 });
      expect(byCode.public_create_on_schema!.message).toContain('REVOKE CREATE ON SCHEMA "Sec ""x""" FROM PUBLIC');
      expect(byCode.security_definer_search_path!.details).toEqual({ function: '"Sec ""x"""."Open door"(a integer)', owner: 'postgres', owner_is_superuser: true });
      // pggit's own SECURITY DEFINER functions all fix their search_path.
      expect(result.findings.filter((f) => f.code === 'security_definer_search_path')).toHaveLength(1);
      expect((await withCheckContext(db, (ctx) => runCheck(securityAssessment, ctx, { max_superusers: 2 }))).findings.map((f) => f.code)).not.toContain('too_many_superusers');
    } finally {
      await withPgClient(db, (c) => c.query(`DROP ROLE ${pg.escapeIdentifier(superuser)}`));
    }
  });
});

describe('complianceAudit', () => {
  it('reports attribution, tracking errors, integrity, retention and the ledger evidence of checklist runs', async () => {
    const db = await database('compliance');
    await withPgClient(db, async (c) => {
      await c.query(`SELECT pggit.configure_monitoring(retention_days => 30)`);
      await c.query(`CREATE TABLE public.audited (id int)`);
      await c.query(
        `INSERT INTO pggit.history (object_type, full_name, change_type, change_severity, role_name, change_timestamp) VALUES
           ('table', 'public.nobody', 'ALTER', 'MINOR', '', now() - interval '2 days'),
           ('table', 'public.ghost', 'ALTER', 'MINOR', 'ghost_role_long_gone', now() - interval '3 days'),
           ('table', 'public.ancient', 'ALTER', 'MINOR', 'postgres', now() - interval '200 days'),
           ('table', 'public.orphan', 'ALTER', 'MINOR', 'postgres', now() - interval '1 day')`,
      );
      await c.query(`UPDATE pggit.history SET object_id = 999999999 WHERE full_name = 'public.orphan'`);
      await c.query(`SELECT pggit.record_tracking_error('CREATE TABLE', 'XX000', 'boom', NULL, NULL)`);
    });
    const result = await withCheckContext(db, async (ctx) => {
      await recordCurrentRun(ctx);
      // pggit-ops began running this target 20 days ago; daily runs succeeded on 10 of the days since, one failed.
      await ctx.ledger.query(
        `INSERT INTO pggit_ops.runs (run_id, runbook, target, initiator, status, started_at)
         SELECT 'first', 'quarterly', $1, 'test', 'succeeded', now() - interval '20 days'
         UNION ALL
         SELECT 'daily-' || d, 'daily', $1, 'test', 'succeeded', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - make_interval(days => d) + interval '12 hours'
           FROM generate_series(1, 10) d
         UNION ALL
         SELECT 'daily-failed', 'daily', $1, 'test', 'failed', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '11 days' + interval '12 hours'
         UNION ALL
         SELECT 'other-target', 'weekly', 'elsewhere', 'test', 'succeeded', now() - interval '5 days'`,
        [ctx.target],
      );
      return runCheck(complianceAudit, ctx);
    });

    expect(problems(result)).toEqual([
      'warning ddl_unattributed',
      'warning tracking_errors',
      'warning integrity_problems',
      'warning retention_shorter_than_period',
      'warning checklist_runs_missing',
      'warning checklist_runs_missing',
    ]);
    expect(codes(result.findings)).toEqual(expect.arrayContaining(['info ddl_by_dropped_roles', 'info history_beyond_retention']));
    const data = result.data as {
      ddlChanges: { total: number; byRole: Array<{ role: string; changes: string; role_exists: boolean }> };
      trackingErrors: { total: number };
      integrity: { ok: boolean; checks: Array<{ check_name: string; status: string }> };
      retention: { retentionDays: number; rowsBeyondRetention: number };
      ledger: { checklists: Array<{ checklist: string; expected: number; covered: number; missing: string[]; runsByStatus: Record<string, number> }> };
    };
    // The planted rows plus CREATE TABLE public.audited (and its column), recorded as postgres.
    expect(data.ddlChanges.byRole).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ role: '', changes: '1' }),
        expect.objectContaining({ role: 'ghost_role_long_gone', changes: '1', role_exists: false }),
        expect.objectContaining({ role: 'postgres', role_exists: true }),
      ]),
    );
    expect(data.trackingErrors.total).toBe(1);
    expect(data.integrity.ok).toBe(false);
    expect(data.integrity.checks).toContainEqual(expect.objectContaining({ check_name: 'orphan history', status: 'FAIL' }));
    expect(data.retention).toMatchObject({ retentionDays: 30, rowsBeyondRetention: 1 });

    const [daily, weekly, monthly] = data.ledger.checklists;
    // Whole UTC days since the first run 20 days ago: the 19 dates before today.
    expect(daily).toMatchObject({ checklist: 'daily', expected: 19, covered: 10, runsByStatus: { succeeded: 10, failed: 1 } });
    expect(daily!.missing).toHaveLength(9);
    expect(weekly!.checklist).toBe('weekly');
    expect(weekly!.expected).toBeGreaterThanOrEqual(2);
    expect(weekly).toMatchObject({ covered: 0, runsByStatus: {} });
    expect(weekly!.missing).toHaveLength(weekly!.expected);
    // No whole calendar month fits in 20 days, so none is expected yet.
    expect(monthly).toMatchObject({ checklist: 'monthly', expected: 0, covered: 0, missing: [] });
    expect(result.findings.find((f) => f.code === 'checklist_runs_missing')!.message).toMatch(/^daily checklist \(runbook daily\): 9 of 19 days since .+ without a successful run \(first missing: \d{4}-\d\d-\d\d/);
  });

  it('says DDL is not being recorded when an event trigger is disabled, and counts no runs for a target the ledger never saw', async () => {
    const db = await database('tracking_off');
    await withPgClient(db, (c) => c.query(`ALTER EVENT TRIGGER pggit_sql_drop DISABLE`));
    const result = await withCheckContext(db, (ctx) => runCheck(complianceAudit, ctx, { period_days: 14 }));
    expect(codes(result.findings).filter((c) => c.startsWith('critical'))).toEqual(['critical tracking_disabled']);
    expect(result.findings[0]!.message).toBe('DDL is not being recorded: event trigger(s) pggit_sql_drop (disabled)');
    // No run at all: every whole day and week of the period is missing.
    const ledger = result.data!.ledger as { firstRun: string | null; checklists: Array<{ checklist: string; expected: number; covered: number }> };
    expect(ledger.firstRun).toBeNull();
    expect(ledger.checklists[0]).toMatchObject({ checklist: 'daily', expected: 13, covered: 0 });
  });
});

describe('techStack', () => {
  const on = (iso: string) => new Date(`${iso}T12:00:00Z`);

  it('judges the server version against end of life by the date it is given', () => {
    expect(codes(assessServerVersion(150018, on('2026-11-24')).findings)).toEqual(['info postgres_minor_unverified']);
    const near = assessServerVersion(150018, on('2027-06-01'));
    expect(codes(near.findings)).toEqual(['warning postgres_eol_near', 'info postgres_minor_unverified']);
    expect(near).toMatchObject({ major: '15', minor: 18, finalRelease: '2027-11-11', daysUntilEol: 163 });
    expect(near.findings[0]!.message).toBe('PostgreSQL 15 reaches end of life on 2027-11-11 (in 163 days): plan the major upgrade now');
    // Six months before is the first day of the warning; the day after the final release is past it.
    expect(codes(assessServerVersion(150018, on('2027-05-10')).findings)).toEqual(['info postgres_minor_unverified']);
    expect(codes(assessServerVersion(150018, on('2027-05-11')).findings)[0]).toBe('warning postgres_eol_near');
    expect(codes(assessServerVersion(150018, on('2027-11-11')).findings)[0]).toBe('warning postgres_eol_near');
    expect(codes(assessServerVersion(140023, on('2026-11-24')).findings)).toEqual(['critical postgres_eol_passed', 'info postgres_minor_unverified']);
    expect(assessServerVersion(90624, on('2026-11-24'))).toMatchObject({ major: '9.6', minor: 24, findings: [expect.objectContaining({ code: 'postgres_eol_passed' }), expect.anything()] });
    expect(codes(assessServerVersion(80423, on('2026-11-24')).findings)).toEqual(['critical postgres_eol_passed', 'info postgres_minor_unverified']);
    expect(codes(assessServerVersion(190001, on('2026-11-24')).findings)).toEqual(['info postgres_eol_unknown', 'info postgres_minor_unverified']);
    expect(codes(assessServerVersion(150018, on('2026-11-24'), 12).findings)[0]).toBe('warning postgres_eol_near');
    expect(assessServerVersion(150018, on('2026-11-24')).findings[0]!.message).toMatch(/^running PostgreSQL 15\.18; whether a newer 15\.x minor release exists cannot be known offline/);
  });

  it('finds extension updates and pggit-ops migrations not applied, unknown or changed', async () => {
    const db = await database('stack');
    await withPgClient(db, async (c) => {
      await c.query(`CREATE EXTENSION hstore VERSION '1.4'`);
      await c.query(`DELETE FROM pggit_ops.schema_migrations WHERE name = '006_pggit_ops_ledger.sql'`);
      await c.query(`UPDATE pggit_ops.schema_migrations SET checksum = repeat('0', 64) WHERE name = '005_pggit_integrity.sql'`);
      await c.query(`INSERT INTO pggit_ops.schema_migrations (name, checksum, duration_ms) VALUES ('999_from_the_future.sql', repeat('f', 64), 1)`);
    });
    const result = await withCheckContext(db, (ctx) => runCheck(techStack, ctx));
    expect(problems(result)).toEqual(['warning migrations_pending', 'warning migrations_unknown', 'warning migrations_changed']);
    const byCode = Object.fromEntries(result.findings.map((f) => [f.code, f]));
    expect(byCode.extension_update_available).toMatchObject({
      severity: 'info',
      message: expect.stringMatching(/^extension hstore is at 1\.4, the server's packages provide 1\.\d+: ALTER EXTENSION hstore UPDATE$/),
    });
    expect(byCode.migrations_pending!.details).toEqual({ pending: ['006_pggit_ops_ledger.sql'] });
    expect(byCode.migrations_pending!.message).toContain('run pggit-ops install --db test');
    expect(byCode.migrations_unknown!.details).toEqual({ unknown: ['999_from_the_future.sql'] });
    expect(byCode.migrations_changed!.details).toMatchObject({ changed: [{ name: '005_pggit_integrity.sql', applied: '0'.repeat(64) }] });
    const shipped = readdirSync(path.join(projectRoot, 'sql')).filter((f) => /^\d{3}_.*\.sql$/.test(f)).length;
    expect(result.summary).toMatch(new RegExp(`^PostgreSQL 15\\.\\d+ .*\\(end of life 2027-11-11\\); 2 extension\\(s\\), 1 with an update; ${shipped - 1} of ${shipped} migrations applied$`));
  });
});
