// `pggit-ops rollback` end to end on a real worker, a real Temporal server and Pagila with a real
// migration history (test/support/rollback-scenario.ts): a rollback through the CLI brings the
// schema back to the dump taken at the point, and a table dropped since back with its rows from the
// backup taken before the drop; a stage that cannot get its lock fails, and the stages committed
// before it are undone, schema and data as before, and when they cannot be undone in place the
// safety backup is put back; a plan gone stale since its preview is refused
// and the change that made it stale kept; a rejected rollback changes nothing; the
// initiator cannot approve; bad input is refused naming it; a recovery and a rollback of one target
// exclude each other.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../activities/backup/dump.ts';
import { verifyBackup } from '../activities/backup/verify.ts';
import { TargetPools } from '../activities/pools.ts';
import type { PlanStep } from '../activities/rollback/plan.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { approveUpdate } from '../workflows/runbook.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { buildScenario, checksums, copyDatabase, schemaDump, tableChecksum, type Scenario } from './support/rollback-scenario.ts';
import { testConfig, withWorkers } from './support/temporal.ts';
import { stepProgress, until } from './support/wait.ts';
import { cliReport, runCli, targetSecrets } from './support/cli.ts';

const tokens = { alice: 'token-of-alice', bob: 'token-of-bob', carol: 'token-of-carol' };
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

let server: TestPostgres;
let scenario: Scenario;
/** The target `app`: the scenario's migrated database, reset from `pristine` before each case. */
let app: PgConnection;
let pristine: string;
let loaded: LoadedConfig;
/** A verified full backup of `app` taken before the migrations, so before film_category's drop. */
let backupId: string;
const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  scenario = await buildScenario(server, async (database) => {
    app = { ...server.connection, database };
    loaded = testConfig(
      // Its own target name: the destructive-run lock is per target name on the shared server.
      { shop: app, ops: server.connection },
      {
        ledger: { target: 'ops' },
        backups: { dir: store },
        people: {
          users: Object.fromEntries(Object.entries(tokens).map(([name, token]) => [name, { token_sha256: sha(token) }])),
          groups: { dba: ['alice', 'bob', 'carol'] },
        },
      },
    );
    const pools = new TargetPools(loaded.config);
    try {
      const context = { config: loaded.config, baseDir: loaded.baseDir, pools, heartbeat: () => undefined, signal: new AbortController().signal };
      backupId = (await runBackup(context, { target: 'shop', kind: 'full', idempotencyKey: 'rollback-test/before-migrations' })).backupId;
      expect((await verifyBackup(context, { backupId })).ok).toBe(true);
    } finally {
      await pools.close();
    }
  });
  pristine = await copyDatabase(server, scenario.migrated, 'pristine');
}, 240_000);
afterAll(() => server?.stop());

/** `app` as the scenario left it: every migration applied. */
async function resetApp(): Promise<void> {
  await withPgClient(server.connection, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(app.database)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(app.database)} TEMPLATE ${pg.escapeIdentifier(pristine)}`);
  });
}

/** The real CLI, as `who` (an operator token), with the targets' secrets in its environment. */
function cli(args: string[], who?: keyof typeof tokens) {
  return runCli(loaded, args, { ...targetSecrets(loaded, server.connection.password), ...(who ? { PGGIT_OPS_OPERATOR_TOKEN: tokens[who] } : {}) });
}

/** Schema dump and data checksums of `app`. */
async function state(): Promise<{ schema: string; checksums: Record<string, string> }> {
  return { schema: await schemaDump(server.url(app.database)), checksums: await withPgClient(app, (c) => checksums(c)) };
}

const gateOpen = (client: Client, runId: string) =>
  until('the approval gate', async () => {
    const gate = await stepProgress(client, runId, 'safety_backup');
    return gate?.status === 'waiting_approval' ? gate : undefined;
  });

async function startRollback(args: string[], who: keyof typeof tokens): Promise<string> {
  const started = await cli(['rollback', '--db', 'shop', ...args, '--json'], who);
  expect(started.exitCode, started.stderr).toBe(0);
  return (JSON.parse(started.stdout) as { runId: string }).runId;
}

interface Report {
  status: string;
  steps: Array<{ id: string; status: string; summary: string | null; error: string | null; data: Record<string, unknown> | null }>;
}

const report = (runId: string) => cliReport<Report>((args) => cli(args), runId);

describe('pggit-ops rollback', () => {
  it('rolls back to a point once approved (not by the initiator): schema as dumped then, the dropped table back with its rows', async () => {
    await resetApp();
    const point = scenario.points[5]!; // before "drop table"
    await withWorkers(loaded, async (client) => {
      const preview = await cli(['rollback', '--db', 'shop', '--to', point.at, '--preview']);
      expect(preview.exitCode, preview.stderr).toBe(0);
      expect(preview.stdout).toContain(`public.film_category: rows restored from backup ${backupId}`);
      expect(preview.stdout).toMatch(/1 approval\(s\) needed/);

      const runId = await startRollback(['--to', point.at], 'carol');
      expect(runId).toMatch(/^rollback\/shop\/\d{8}T\d{6}Z-[0-9a-f]{4}$/);
      const gate = await gateOpen(client, runId);
      expect(gate.approval!.quorum).toBe(1);
      const denied = await cli(['approve', runId, '--step', 'safety_backup', '--json'], 'carol');
      expect(denied.exitCode).toBe(1);
      expect(denied.stdout).toContain('carol started this run and cannot approve');
      const approved = await cli(['approve', runId, '--step', 'safety_backup', '--comment', 'ok', '--json'], 'alice');
      expect(approved.exitCode, approved.stdout).toBe(0);
      await client.workflow.getHandle(runId).result();

      const done = await report(runId);
      expect(done.steps.map((s) => [s.id, s.status])).toEqual([
        ['preview', 'succeeded'], ['safety_backup', 'succeeded'], ['apply', 'succeeded'], ['restore_data', 'succeeded'], ['verify', 'succeeded'],
      ]);
      expect(done.status).toBe('succeeded');
      expect(await schemaDump(server.url(app.database))).toBe(point.schema);
      expect(await withPgClient(app, (c) => tableChecksum(c, 'film_category'))).toBe(scenario.droppedRows);
      expect(done.steps.find((s) => s.id === 'restore_data')!.summary).toMatch(/public\.film_category: \d+ rows/);
    });
  });

  it('a stage that cannot get its lock fails, and the stages committed before it are undone: schema and data as before', async () => {
    await resetApp();
    const point = scenario.points[0]!; // drops loyalty_points: data is lost, two approvals
    const before = await state();
    const preview = await cli(['rollback', '--db', 'shop', '--to', point.at, '--preview', '--json']);
    expect(preview.exitCode, preview.stderr).toBe(0);
    const plan = JSON.parse(preview.stdout) as { approvers_needed: number; steps: PlanStep[] };
    expect(plan.approvers_needed).toBe(2);
    // Stage 1 drops the view over customer, stage 2 the index on it: a session holding customer
    // lets stage 1 through (DROP VIEW locks the view) and times stage 2 out (DROP INDEX locks the table).
    expect(plan.steps.filter((s) => s.stage <= 2).map((s) => [s.stage, s.action, s.object_name])).toEqual([
      [1, 'drop', 'public.customer_loyalty'], [2, 'drop', 'public.customer_loyalty_idx'],
    ]);
    const table = 'public.customer';

    const holder = new pg.Client(app);
    await holder.connect();
    try {
      await withWorkers(loaded, async (client) => {
        const runId = await startRollback(['--to', point.at, '--lock-timeout', '1s'], 'carol');
        const gate = await gateOpen(client, runId);
        expect(gate.approval!.quorum).toBe(2);
        await holder.query(`BEGIN; LOCK TABLE ${table} IN ACCESS SHARE MODE`);
        for (const approver of ['alice', 'bob']) {
          await client.workflow.getHandle(runId).executeUpdate(approveUpdate, { args: [{ stepId: 'safety_backup', decision: 'approve', approver, reason: 'ok' }] });
        }
        await until('the apply step to fail', async () => (['failed', 'compensated'].includes((await stepProgress(client, runId, 'apply'))?.status ?? '') ? true : undefined));
        await holder.query('ROLLBACK');
        await expect(client.workflow.getHandle(runId).result()).rejects.toThrow();

        const done = await report(runId);
        expect(done.status).toBe('failed');
        const apply = done.steps.find((s) => s.id === 'apply')!;
        expect(apply.status).toBe('compensated');
        expect(apply.error).toMatch(/^stage 2 \(.*\) failed at step \d+ .* and was rolled back: .*lock timeout.*; committed before it: stage 1$/);
        expect(apply.summary).toMatch(/compensated by revert: committed stages undone: \d+ statements back to /);
      });
    } finally {
      await holder.end();
    }
    expect(await state()).toEqual(before);
  });

  it('puts the safety backup back when the committed stages cannot be undone in place', async () => {
    await resetApp();
    const point = scenario.points[0]!;
    const before = await state();
    // Stage 2 times out on customer (held by `holder`); its view, dropped by stage 1, cannot come
    // back while `blocker` holds an uncommitted type of the same name, so the undo times out too.
    const holder = new pg.Client(app);
    const blocker = new pg.Client(app);
    for (const c of [holder, blocker]) {
      c.on('error', () => undefined); // both are terminated when the database is put back
      await c.connect();
    }
    try {
      await withWorkers(loaded, async (client) => {
        const params = [`to=${point.at}`, 'lock_timeout=3s', 'revert_lock_timeout=1s'].flatMap((p) => ['--param', p]);
        const started = await cli(['run', 'rollback', '--db', 'shop', ...params, '--json'], 'carol');
        expect(started.exitCode, started.stderr).toBe(0);
        const { runId } = JSON.parse(started.stdout) as { runId: string };
        await gateOpen(client, runId);
        await holder.query('BEGIN; LOCK TABLE public.customer IN ACCESS SHARE MODE');
        for (const approver of ['alice', 'bob']) {
          await client.workflow.getHandle(runId).executeUpdate(approveUpdate, { args: [{ stepId: 'safety_backup', decision: 'approve', approver, reason: 'ok' }] });
        }
        await until('stage 1 to commit', () => withPgClient(app, async (c) => ((await c.query(`SELECT to_regclass('public.customer_loyalty') AS v`)).rows[0].v === null ? true : undefined)));
        await blocker.query('BEGIN; CREATE TYPE public.customer_loyalty AS (x int)');
        await expect(client.workflow.getHandle(runId).result()).rejects.toThrow();

        const apply = (await report(runId)).steps.find((s) => s.id === 'apply')!;
        expect(apply.status).toBe('compensated');
        expect(apply.error).toMatch(/^stage 2 .* committed before it: stage 1$/);
        expect(apply.summary).toMatch(/compensated by revert: undoing the committed stages failed \(.*lock timeout.*\); \S+ put back from safety backup \S+ in [\d.]+ s and verified against it/);
      });
    } finally {
      await holder.end().catch(() => undefined);
      await blocker.end().catch(() => undefined);
    }
    expect(await state()).toEqual(before);
  });

  it('refuses a plan gone stale since its preview, and leaves the schema change that made it stale alone', async () => {
    await resetApp();
    await withWorkers(loaded, async (client) => {
      const runId = await startRollback(['--to', scenario.points[5]!.at], 'carol');
      await gateOpen(client, runId);
      await withPgClient(app, (c) => c.query('CREATE TABLE public.made_meanwhile (id int)'));
      const before = await state();
      await client.workflow.getHandle(runId).executeUpdate(approveUpdate, { args: [{ stepId: 'safety_backup', decision: 'approve', approver: 'alice', reason: 'ok' }] });
      await expect(client.workflow.getHandle(runId).result()).rejects.toThrow();
      const apply = (await report(runId)).steps.find((s) => s.id === 'apply')!;
      expect(apply.status).toBe('compensated');
      expect(apply.error).toMatch(/^nothing done: \d+ schema changes were recorded since the preview at .*, so the approved plan is stale; preview again$/);
      expect(apply.summary).toContain('compensated by revert: nothing to undo: no stage had committed');
      expect(await state()).toEqual(before);
    });
  });

  it('a rejected rollback changes nothing; a recovery of the target is refused while it waits', async () => {
    await resetApp();
    const before = await state();
    await withWorkers(loaded, async (client) => {
      const runId = await startRollback(['--to', scenario.points[3]!.at], 'carol');
      await gateOpen(client, runId);
      const recovery = await cli(['recover', '--db', 'shop', '--backup', backupId], 'alice');
      expect(recovery.exitCode).toBe(2);
      expect(recovery.stderr).toContain(`a recovery of shop is refused: ${runId} is running (one recovery or rollback per target at a time)`);
      const rejected = await cli(['reject', runId, '--step', 'safety_backup', '--reason', 'not today', '--json'], 'bob');
      expect(rejected.exitCode, rejected.stdout).toBe(0);
      await expect(client.workflow.getHandle(runId).result()).rejects.toThrow();
      const done = await report(runId);
      expect(done.steps.find((s) => s.id === 'safety_backup')!.error).toBe('rejected by bob: not today');
      expect(done.steps.map((s) => [s.id, s.status])).toEqual([
        ['preview', 'succeeded'], ['safety_backup', 'rejected'], ['apply', 'pending'], ['restore_data', 'pending'], ['verify', 'pending'],
      ]);
    });
    expect(await state()).toEqual(before);
  });

  it('previews one object back to a version, and refuses bad input naming it, before starting anything', async () => {
    await resetApp();
    const first = await withPgClient(app, async (c) =>
      (await c.query<{ v: string }>(`SELECT version_after AS v FROM pggit.history WHERE full_name = 'public.actor' ORDER BY id LIMIT 1`)).rows[0]!.v);
    const preview = await cli(['rollback', '--db', 'shop', '--object', 'public.actor', '--version', first, '--preview', '--json']);
    expect(preview.exitCode, preview.stderr).toBe(0);
    const plan = JSON.parse(preview.stdout) as { scope: string[]; data_lost: string[]; steps: PlanStep[] };
    expect(plan.scope).toEqual(['public.actor']);
    // migration 5 dropped actor.last_update: it comes back; nothing of customer or film_category is in scope
    expect(plan.steps.map((s) => [s.action, s.object_name])).toContainEqual(['create', 'public.actor.last_update']);
    expect(plan.steps.every((s) => s.object_name.startsWith('public.actor'))).toBe(true);
    expect(plan.data_lost).toEqual([]);

    const cases: Array<[string[], RegExp]> = [
      [['--to', 'yesterday-ish'], /timestamp 'yesterday-ish' is not a valid time/],
      [['--to', '2999-01-01 00:00:00+00'], /the target point 2999-01-01 00:00:00\+00 is in the future/],
      [['--object', 'public.no_such_table', '--version', '1.0.0'], /unknown object public\.no_such_table/],
      [['--object', 'public.customer', '--version', '9.9.9'], /version 9\.9\.9 of public\.customer was never recorded \(recorded versions: /],
      [['--to', scenario.points[0]!.at, '--object', 'public.customer', '--version', '1.0.0'], /either a timestamp .* or an object and a version, not both/],
      [['--object', 'public.customer'], /needs both the object and the version/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(['rollback', '--db', 'shop', ...args], 'carol');
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});
