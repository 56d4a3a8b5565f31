// `pggit-ops recover` end to end on a real worker and a real cluster: a target changed since its
// backup is put back to the backup's state, database properties included, once two distinct DBAs
// (not the initiator) approve; a second recovery of the target is refused while one runs; a
// restore that cannot be faithful (an owner role gone since the backup) is undone from the safety
// backup; a backup damaged after its verification is refused before the target is touched; the
// ledger's database is never replaced.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../worker/config.ts';
import { approveUpdate, progressQuery } from '../workflows/runbook.ts';
import type { RunProgress } from '../workflows/runbook-types.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { testConfig, withWorkers } from './support/temporal.ts';
import { until } from './support/wait.ts';
import { flipMiddleBytes } from './support/damage.ts';
import { cliReport, runCli, targetSecrets } from './support/cli.ts';

const tokens = { alice: 'token-of-alice', bob: 'token-of-bob', carol: 'token-of-carol' };
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

let server: TestPostgres;
/** The target `app`; the ledger is target `ops`, the test server's main database. */
let app: PgConnection;
let loaded: LoadedConfig;
const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  app = { ...server.connection, database: await server.createDatabase('app') };
  await installPggit(app);
  await withPgClient(app, async (c) => {
    await c.query(`CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL);
      INSERT INTO customer SELECT g, 'customer ' || g FROM generate_series(1, 1000) g;
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer, amount numeric(10,2));
      INSERT INTO orders SELECT g, 1 + g % 1000, g * 1.5 FROM generate_series(1, 5000) g;
      CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100;
      COMMENT ON DATABASE ${pg.escapeIdentifier(app.database)} IS 'as backed up'`);
  });
  loaded = testConfig(
    { app, ops: server.connection, ledger_alias: server.connection },
    {
      ledger: { target: 'ops' },
      backups: { dir: store },
      people: {
        users: Object.fromEntries(Object.entries(tokens).map(([name, token]) => [name, { token_sha256: sha(token) }])),
        groups: { dba: ['alice', 'bob', 'carol'] },
      },
    },
  );
});
afterAll(() => server?.stop());

/** The real CLI, as `who` (an operator token), with the targets' secrets in its environment. */
function cli(args: string[], who?: keyof typeof tokens) {
  return runCli(loaded, args, { ...targetSecrets(loaded, server.connection.password), ...(who ? { PGGIT_OPS_OPERATOR_TOKEN: tokens[who] } : {}) });
}

/** What the target holds: its tables with their rows (count and md5 of all of them), columns, views and the database's comment. */
async function fingerprint(): Promise<Record<string, string>> {
  return withPgClient(app, async (c) => {
    const tables = (await c.query<{ t: string }>(`SELECT format('%I.%I', table_schema, table_name) AS t FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)).rows.map((r) => r.t);
    const found: Record<string, string> = {};
    for (const t of tables) {
      found[t] = (await c.query<{ f: string }>(`SELECT count(*) || ' rows ' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') AS f FROM ${t} x`)).rows[0]!.f;
    }
    found.columns = (await c.query<{ s: string }>(`SELECT string_agg(table_name || '.' || column_name || ' ' || data_type, ', ' ORDER BY table_name, column_name) AS s
      FROM information_schema.columns WHERE table_schema = 'public'`)).rows[0]!.s;
    found.views = (await c.query<{ s: string }>(`SELECT string_agg(viewname, ', ' ORDER BY viewname) AS s FROM pg_views WHERE schemaname = 'public'`)).rows[0]!.s ?? '';
    found.comment = (await c.query<{ s: string }>(`SELECT shobj_description(oid, 'pg_database') AS s FROM pg_database WHERE datname = current_database()`)).rows[0]!.s;
    return found;
  });
}

const integrityProblems = () =>
  withPgClient(app, async (c) => (await c.query(`SELECT check_name, details FROM pggit.verify_database_integrity() WHERE status <> 'OK'`)).rows);

/** A new verified full backup of `app`, through the CLI: its id, and its file. */
async function backup(): Promise<{ id: string; file: string }> {
  const run = await cli(['backup', '--db', 'app', '--wait', '--json']);
  expect(run.exitCode, run.stderr).toBe(0);
  const taken = (JSON.parse(run.stdout) as { steps: Array<{ data: { backup: { backupId: string; path: string } } }> }).steps[0]!.data.backup;
  return { id: taken.backupId, file: path.join(store, taken.path) };
}

/** Live progress of a run, once its lock workflow has started it. */
async function progress(client: Client, runId: string): Promise<RunProgress | undefined> {
  return client.workflow.getHandle(runId).query(progressQuery).catch(() => undefined);
}

/** Waits until the safety backup's gate is open; its approval state. */
const gateOpen = (client: Client, runId: string) =>
  until('the approval gate', async () => {
    const step = (await progress(client, runId))?.steps.find((s) => s.id === 'safety_backup');
    return step?.status === 'waiting_approval' ? step : undefined;
  }, 30);

/** An approval of the recovery as `who` through the CLI (the identity its operator token establishes). */
async function approve(runId: string, who: keyof typeof tokens) {
  const result = await cli(['approve', runId, '--step', 'safety_backup', '--comment', `ok from ${who}`, '--json'], who);
  return { exitCode: result.exitCode, ...(JSON.parse(result.stdout) as { accepted: boolean; reason?: string }) };
}

/** The two approvals a recovery needs, sent as the CLI sends them (the first test runs them through the CLI). */
async function approveBoth(client: Client, runId: string): Promise<void> {
  await gateOpen(client, runId);
  for (const approver of ['alice', 'bob']) {
    await client.workflow.getHandle(runId).executeUpdate(approveUpdate, { args: [{ stepId: 'safety_backup', decision: 'approve', approver, reason: 'ok' }] });
  }
}

interface Report {
  status: string;
  error: string | null;
  steps: Array<{ id: string; status: string; summary: string | null; error: string | null; data: Record<string, unknown> | null }>;
}

const report = (runId: string) => cliReport<Report>((args) => cli(args), runId);

describe('pggit-ops recover', () => {
  it('restores a backup over a target changed since, once two DBAs other than the initiator approve', async () => {
    await withWorkers(loaded, async (client) => {
      const chosen = (await backup()).id;
      const before = await fingerprint();
      await withPgClient(app, (c) =>
        c.query(`DELETE FROM orders WHERE id % 3 = 0; UPDATE customer SET name = 'renamed' WHERE id < 10;
          DROP VIEW big_orders; ALTER TABLE orders ADD COLUMN note text; CREATE TABLE added_later (x int);
          COMMENT ON DATABASE ${pg.escapeIdentifier(app.database)} IS 'changed'`),
      );
      const changed = await fingerprint();
      expect(changed).not.toEqual(before);

      const started = await cli(['recover', '--db', 'app', '--backup', chosen, '--json'], 'carol');
      expect(started.exitCode, started.stderr).toBe(0);
      const { runId } = JSON.parse(started.stdout) as { runId: string };
      expect(runId).toMatch(/^recover\/app\/\d{8}T\d{6}Z-[0-9a-f]{4}$/);
      const gate = await gateOpen(client, runId);
      expect(gate.approval).toMatchObject({ quorum: 2, approvers: ['alice', 'bob', 'carol'] });
      expect((await progress(client, runId))!.steps[0]).toMatchObject({ id: 'plan', status: 'succeeded', summary: expect.stringContaining(`with backup ${chosen}`) });

      expect(await approve(runId, 'carol')).toMatchObject({ exitCode: 1, accepted: false, reason: expect.stringContaining('carol started this run and cannot approve') });
      expect(await approve(runId, 'alice')).toMatchObject({ exitCode: 0, accepted: true });
      // One approval is not enough, and the same person twice counts once.
      expect(await approve(runId, 'alice')).toMatchObject({ exitCode: 1, accepted: false, reason: 'alice has already decided on step safety_backup' });
      const waiting = (await progress(client, runId))!.steps.find((s) => s.id === 'safety_backup')!;
      expect(waiting.status).toBe('waiting_approval');
      expect(waiting.approval!.decisions.map((d) => d.approver)).toEqual(['alice']);
      expect(await fingerprint()).toEqual(changed);

      // One recovery of a target at a time.
      const second = await cli(['recover', '--db', 'app', '--backup', chosen], 'alice');
      expect(second.exitCode).toBe(2);
      expect(second.stderr).toContain(`a recovery of app is refused: ${runId} is running (one recovery or rollback per target at a time)`);

      // A session left open on the target is terminated by the recovery.
      const held = new pg.Client(app);
      held.on('error', () => undefined);
      await held.connect();
      expect(await approve(runId, 'bob')).toMatchObject({ exitCode: 0, accepted: true });
      await client.workflow.getHandle(runId).result();
      await expect(held.query('SELECT 1')).rejects.toThrow();
      await held.end().catch(() => undefined);

      const done = await report(runId);
      expect(done.status).toBe('succeeded');
      expect(done.steps.map((s) => [s.id, s.status])).toEqual([['plan', 'succeeded'], ['safety_backup', 'succeeded'], ['restore_target', 'succeeded']]);
      const restored = done.steps.find((s) => s.id === 'restore_target')!;
      expect(restored.data).toMatchObject({ backup_id: chosen, terminated_sessions: expect.any(Number), rto_seconds: expect.any(Number), pggit_resynced: expect.any(Number) });
      expect(restored.data!.terminated_sessions).toBeGreaterThanOrEqual(1);
      expect(await fingerprint()).toEqual(before);
      expect(await integrityProblems()).toEqual([]);

      // The safety backup was taken of the target as it was before the recovery, under the run's key.
      const safety = done.steps.find((s) => s.id === 'safety_backup')!.data as { backup: { idempotencyKey: string; verified: boolean } };
      expect(safety.backup).toMatchObject({ idempotencyKey: `${runId}/safety_backup`, verified: true });
    });
  });

  it('puts the target back from the safety backup when the restore cannot be faithful, and the run fails', async () => {
    // The backup names an owner role that is gone by the time of the recovery: pg_restore carries
    // on, and the restored schema differs from the backup's, which the verification catches.
    await withPgClient(app, (c) => c.query(`CREATE ROLE recover_test_owner; CREATE TABLE owned (id int); INSERT INTO owned VALUES (1), (2);
      ALTER TABLE owned OWNER TO recover_test_owner`));
    await withWorkers(loaded, async (client) => {
      const chosen = (await backup()).id;
      await withPgClient(app, (c) => c.query(`ALTER TABLE owned OWNER TO CURRENT_USER; DROP ROLE recover_test_owner; INSERT INTO owned VALUES (3)`));
      const before = await fingerprint();

      const waiting = cli(['recover', '--db', 'app', '--backup', chosen, '--wait', '--json'], 'carol');
      // The lock workflow names the run it holds the target for.
      const runId = await until('the run to start', async () => {
        const lock = await client.workflow.getHandle('destructive/app').describe().catch(() => undefined);
        return lock?.status.name === 'RUNNING' ? (lock.memo?.runId as string) : undefined;
      }, 30);
      await approveBoth(client, runId);
      const result = await waiting;
      expect(result.exitCode, result.stderr).toBe(1);

      const done = JSON.parse(result.stdout) as Report;
      expect(done.status).toBe('failed');
      const restore = done.steps.find((s) => s.id === 'restore_target')!;
      expect(restore.status).toBe('compensated');
      expect(restore.error).toContain(`restoring ${chosen} into ${app.database} failed: the restored schema differs from the backup`);
      expect(restore.summary).toMatch(/compensated by put_back: .* put back from safety backup app-full-\S+ in [\d.]+ s and verified against it/);
      expect(await fingerprint()).toEqual(before);
      expect(await integrityProblems()).toEqual([]);
    });
  });

  it('refuses a backup damaged since its verification before touching the target, and leaves nothing to put back', async () => {
    await withWorkers(loaded, async (client) => {
      const { id: chosen, file } = await backup();
      // Bytes flipped in the middle: the table of contents at the front still reads, the catalog still says verified.
      flipMiddleBytes(file);
      await withPgClient(app, (c) => c.query(`INSERT INTO customer VALUES (100001, 'written after the backup')`));
      const before = await fingerprint();
      const oid = () => withPgClient(app, async (c) => (await c.query(`SELECT oid FROM pg_database WHERE datname = current_database()`)).rows[0].oid);
      const oidBefore = await oid();

      const { runId } = JSON.parse((await cli(['recover', '--db', 'app', '--backup', chosen, '--json'], 'carol')).stdout) as { runId: string };
      await approveBoth(client, runId);
      await expect(client.workflow.getHandle(runId).result()).rejects.toThrow();

      const done = await report(runId);
      expect(done.status).toBe('failed');
      const restore = done.steps.find((s) => s.id === 'restore_target')!;
      expect(restore.error).toMatch(new RegExp(`backup ${chosen} failed verification just now \\(checksum mismatch.*\\): ${app.database} was not touched`));
      expect(restore.summary).toContain(`compensated by put_back: nothing to put back: ${app.database} is still the database safety backup`);
      expect(await oid()).toBe(oidBefore);
      expect(await fingerprint()).toEqual(before);
      // The failed verification is in the catalog: the CLI now refuses the backup before starting anything.
      const again = await cli(['recover', '--db', 'app', '--backup', chosen]);
      expect(again.exitCode).toBe(2);
      expect(again.stderr).toContain(`--backup ${chosen}: backup ${chosen} is not verified`);
    });
  });

  it('never replaces the database that holds the ledger, whatever the target is called', async () => {
    await withWorkers(loaded, async () => {
      const usable = (await backup()).id;
      // `ledger_alias` is the ledger's database under another name: its session is recognised there.
      const run = await cli(['run', 'recover', '--db', 'ledger_alias', '--param', `backup_id=${usable}`, '--param', 'allow_other_target=true', '--wait', '--json'], 'carol');
      expect(run.exitCode).toBe(1);
      const done = JSON.parse(run.stdout) as Report;
      expect(done.steps.map((s) => [s.id, s.status])).toEqual([['plan', 'failed'], ['safety_backup', 'pending'], ['restore_target', 'pending']]);
      expect(done.error).toContain(`the ledger (ledger.target: ops) lives in target ledger_alias's database ${server.connection.database}`);
    });
  });
});
