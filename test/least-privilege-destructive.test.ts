// The destructive runs as non-superuser roles, with the grants docs/least-privilege.md documents.
// A staged rollback of Pagila (test/support/rollback-scenario.ts) runs as `lp_owner`: the worker
// role's grants (scripts/worker-role.sql) plus ownership of the app's tables, views and sequences
// and CREATE on their schema; it rolls back, refills a dropped table from a backup, undoes a failed
// stage, and rebuilds an invalid index. A recovery as the owner of the database with CREATEDB is
// refused before anything is dropped: pg_restore could re-create neither pggit's event triggers nor
// the objects' owners, so it would leave the target without DDL tracking. The ledger is written by
// the worker role throughout. Target names are this file's own: the destructive-run lock is per
// target name on the shared Temporal server.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../activities/backup/dump.ts';
import { verifyBackup } from '../activities/backup/verify.ts';
import { allChecks } from '../activities/checks/index.ts';
import { TargetPools } from '../activities/pools.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { approveUpdate, runbookRun } from '../workflows/runbook.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { workerRole } from './support/roles.ts';
import { buildScenario, checksums, copyDatabase, schemaDump, tableChecksum, type Scenario } from './support/rollback-scenario.ts';
import { rememberSecret } from './support/secrets.ts';
import { testConfig, withWorkers } from './support/temporal.ts';
import { stepProgress, until } from './support/wait.ts';
import { cliReport, runCli } from './support/cli.ts';

const tokens = Object.fromEntries(['alice', 'bob', 'carol'].map((name) => [name, randomBytes(12).toString('hex')])) as Record<'alice' | 'bob' | 'carol', string>;
for (const token of Object.values(tokens)) rememberSecret(token);
type Person = keyof typeof tokens;

let server: TestPostgres;
/** The ledger (the server's main database) as the worker role. */
let ledger: PgConnection;
const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));

/** `targets` plus the ledger `lp_ops` as the worker role, the backup store, and DBAs alice, bob and carol. */
function config(targets: Record<string, PgConnection>): LoadedConfig {
  return testConfig(
    { ...targets, lp_ops: ledger },
    {
      ledger: { target: 'lp_ops' },
      backups: { dir: store },
      people: {
        users: Object.fromEntries(Object.entries(tokens).map(([name, token]) => [name, { token_sha256: createHash('sha256').update(token).digest('hex') }])),
        groups: { dba: ['alice', 'bob', 'carol'] },
      },
    },
  );
}

/** The real CLI on `loaded`'s config file, as `who` (an operator token). */
function cli(loaded: LoadedConfig, args: string[], who?: Person) {
  return runCli(loaded, args, who ? { PGGIT_OPS_OPERATOR_TOKEN: tokens[who] } : {});
}

/** A verified full backup of `target` taken through the product as its configured role; its id. */
async function verifiedBackup(loaded: LoadedConfig, target: string): Promise<string> {
  const pools = new TargetPools(loaded.config);
  try {
    const context = { config: loaded.config, baseDir: loaded.baseDir, pools, heartbeat: () => undefined, signal: new AbortController().signal };
    const { backupId } = await runBackup(context, { target, kind: 'full', idempotencyKey: `least-privilege/${target}/${randomBytes(4).toString('hex')}` });
    expect((await verifyBackup(context, { backupId })).ok).toBe(true);
    return backupId;
  } finally {
    await pools.close();
  }
}

/** Approves the safety backup of run `runId` as each of `approvers` once its gate is open. */
async function approve(client: Client, runId: string, approvers: Person[]): Promise<void> {
  await until('the approval gate', async () => ((await stepProgress(client, runId, 'safety_backup'))?.status === 'waiting_approval' ? true : undefined));
  for (const approver of approvers) {
    await client.workflow.getHandle(runId).executeUpdate(approveUpdate, { args: [{ stepId: 'safety_backup', decision: 'approve', approver, reason: 'ok' }] });
  }
}

/** Starts `args` (a rollback or recovery command) as carol; the run's id. */
async function start(loaded: LoadedConfig, args: string[]): Promise<string> {
  const started = await cli(loaded, [...args, '--json'], 'carol');
  expect(started.exitCode, started.stderr).toBe(0);
  return (JSON.parse(started.stdout) as { runId: string }).runId;
}

interface Report {
  steps: Array<{ id: string; status: string; summary: string | null; error: string | null; data: Record<string, unknown> | null }>;
}

const report = (loaded: LoadedConfig, runId: string) => cliReport<Report>((args) => cli(loaded, args), runId);

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  ledger = await workerRole(server.connection, server.connection.database, 'lp_worker');
});
afterAll(() => server?.stop());

/**
 * Makes `role` the owner of the tables, views, materialized views and sequences of schema public
 * in `database` (indexes and a column's sequence follow their table), and lets it create there: a
 * rollback re-creates the tables and views dropped since its point.
 */
async function giveAppTo(database: string, role: string): Promise<void> {
  await withPgClient({ ...server.connection, database }, (c) =>
    c.query(`DO $$ DECLARE r record; BEGIN
               FOR r IN SELECT c.oid::regclass AS name, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
                          FROM pg_class c
                         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                           AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
               LOOP
                 EXECUTE format('ALTER %s %s OWNER TO ${pg.escapeIdentifier(role)}', r.kind, r.name);
               END LOOP;
             END $$;
             GRANT CREATE ON SCHEMA public TO ${pg.escapeIdentifier(role)}`),
  );
}

describe('a staged rollback as a role that owns the tables', () => {
  let scenario: Scenario;
  /** Target `lp_shop`: the scenario's migrated database as lp_owner, reset from `pristine` before each case. */
  let shop: PgConnection;
  let pristine: string;
  let loaded: LoadedConfig;
  /** A verified full backup of lp_shop taken before the migrations, so before film_category's drop. */
  let backupId: string;

  beforeAll(async () => {
    scenario = await buildScenario(server, async (database) => {
      shop = await workerRole(server.connection, database, 'lp_owner');
      await giveAppTo(database, 'lp_owner');
      loaded = config({ lp_shop: shop });
      backupId = await verifiedBackup(loaded, 'lp_shop');
    });
    // The migrations ran as the superuser; the app's owner owns what they created too.
    await giveAppTo(scenario.migrated, 'lp_owner');
    pristine = await copyDatabase(server, scenario.migrated, 'lp_pristine');
  }, 240_000);

  async function resetShop(): Promise<void> {
    await withPgClient(server.connection, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(shop.database)} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(shop.database)} TEMPLATE ${pg.escapeIdentifier(pristine)}`);
    });
  }

  /** A schema dump without its owners (ALTER ... OWNER TO lines and the comments naming them). */
  const withoutOwners = (schema: string) => schema.replace(/^ALTER .* OWNER TO .*;$/gm, '').replace(/; Owner: .*$/gm, '');

  /**
   * Schema dump (owners left out: lp_owner owns what a rollback re-creates, where the scenario
   * recorded the superuser) and data checksums of lp_shop.
   */
  async function state(): Promise<{ schema: string; checksums: Record<string, string> }> {
    return { schema: withoutOwners(await schemaDump(server.url(shop.database))), checksums: await withPgClient(shop, (c) => checksums(c)) };
  }

  it("lp_owner is no superuser, cannot create databases, and owns the app's tables but nothing of pggit's", async () => {
    const { rows } = await withPgClient({ ...server.connection, database: shop.database }, (c) =>
      c.query(`SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls,
                      array(SELECT DISTINCT c.relnamespace::regnamespace::text FROM pg_class c WHERE c.relowner = r.oid AND c.relnamespace <> 'pg_toast'::regnamespace ORDER BY 1) AS owns_in
                 FROM pg_roles r WHERE r.rolname = 'lp_owner'`),
    );
    expect(rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolbypassrls: false, owns_in: ['public'] }]);
  });

  it('rolls back to a point once approved: schema as dumped then, the dropped table back with its rows from the backup', async () => {
    await resetShop();
    const point = scenario.points[5]!; // before "drop table"
    await withWorkers(loaded, async (client) => {
      const runId = await start(loaded, ['rollback', '--db', 'lp_shop', '--to', point.at]);
      await approve(client, runId, ['alice']);
      await client.workflow.getHandle(runId).result();
      const done = await report(loaded, runId);
      expect(done.steps.map((s) => [s.id, s.status, s.error])).toEqual(
        ['preview', 'safety_backup', 'apply', 'restore_data', 'verify'].map((id) => [id, 'succeeded', null]),
      );
      expect(done.steps.find((s) => s.id === 'restore_data')!.data).toEqual({ restored: [{ table: 'public.film_category', backup_id: backupId, rows: expect.any(Number) }] });
    });
    expect((await state()).schema).toBe(withoutOwners(point.schema));
    expect(await withPgClient(shop, (c) => tableChecksum(c, 'film_category'))).toBe(scenario.droppedRows);
  });

  it('undoes the committed stages when a later one cannot get its lock: schema and data as before', async () => {
    await resetShop();
    const before = await state();
    const holder = new pg.Client(shop);
    await holder.connect();
    try {
      await withWorkers(loaded, async (client) => {
        // To point 0: stage 1 drops the view over customer, stage 2 the index on it, which waits for `holder`.
        const runId = await start(loaded, ['rollback', '--db', 'lp_shop', '--to', scenario.points[0]!.at, '--lock-timeout', '1s']);
        await holder.query('BEGIN; LOCK TABLE public.customer IN ACCESS SHARE MODE');
        await approve(client, runId, ['alice', 'bob']);
        await until('the apply step to end', async () => (['failed', 'compensated'].includes((await stepProgress(client, runId, 'apply'))?.status ?? '') ? true : undefined));
        await holder.query('ROLLBACK');
        await expect(client.workflow.getHandle(runId).result()).rejects.toThrow();
        const apply = (await report(loaded, runId)).steps.find((s) => s.id === 'apply')!;
        expect(apply.status).toBe('compensated');
        expect(apply.error).toMatch(/^stage 2 .*lock timeout.*; committed before it: stage 1$/);
        expect(apply.summary).toMatch(/compensated by revert: committed stages undone: \d+ statements back to /);
      });
    } finally {
      await holder.end();
    }
    expect(await state()).toEqual(before);
  });

  it('rebuilds an invalid index of a table it owns with REINDEX CONCURRENTLY (the monthly rebuild)', async () => {
    await resetShop();
    // A unique index built concurrently over duplicates is left invalid; the duplicates then go.
    await withPgClient(shop, async (c) => {
      await c.query(`CREATE TABLE public.lp_items (id int); INSERT INTO public.lp_items VALUES (1), (1), (2)`);
      await expect(c.query(`CREATE UNIQUE INDEX CONCURRENTLY lp_items_id ON public.lp_items (id)`)).rejects.toThrow(/could not create unique index/);
      await c.query(`DELETE FROM public.lp_items WHERE ctid = (SELECT max(ctid) FROM public.lp_items WHERE id = 1)`);
    });
    const runbook = parseRunbook(
      'name: rebuild\ndescription: the monthly index rebuild alone\nsteps:\n  - { id: rebuild_indexes, title: rebuild, activity: rebuildIndexes, args: { schemas: [public] } }',
      'rebuild.yaml',
      { checks: allChecks, people: { users: {}, groups: {} } },
    );
    const result = await withWorkers(loaded, (client) =>
      client.workflow.execute(runbookRun, {
        taskQueue: loaded.config.temporal.task_queues.checks,
        workflowId: `rebuild/lp_shop/${timeSuffix()}`,
        args: [{ runbook, target: 'lp_shop', initiator: 'alice', queues: loaded.config.temporal.task_queues }],
      }),
    );
    expect(result.steps.map((s) => [s.status, s.summary])).toEqual([['succeeded', 'ran 1 index command(s): 1 done, 0 failed']]);
    const valid = await withPgClient(shop, async (c) => (await c.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.lp_items_id'::regclass`)).rows[0].indisvalid);
    expect(valid).toBe(true);
  });
});

describe('a recovery as the owner of the database with CREATEDB', () => {
  it("is refused before anyone is asked and anything is dropped: only a superuser can re-create pggit's event triggers", async () => {
    const database = await server.createDatabase('lp_app');
    await installPggit({ ...server.connection, database });
    const owner = await workerRole(server.connection, database, 'lp_dbowner');
    await withPgClient(server.connection, (c) => c.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} OWNER TO lp_dbowner; ALTER ROLE lp_dbowner CREATEDB`));
    const loaded = config({ lp_app: owner });
    const backupId = await verifiedBackup(loaded, 'lp_app');
    const oid = () => withPgClient(server.connection, async (c) => (await c.query<{ oid: number }>('SELECT oid FROM pg_database WHERE datname = $1', [database])).rows[0]?.oid);
    const before = await oid();
    await withWorkers(loaded, async (client) => {
      const runId = await start(loaded, ['recover', '--db', 'lp_app', '--backup', backupId]);
      await expect(client.workflow.getHandle(runId).result()).rejects.toThrow();
      const done = await report(loaded, runId);
      expect(done.steps.map((s) => [s.id, s.status])).toEqual([['plan', 'failed'], ['safety_backup', 'pending'], ['restore_target', 'pending']]);
      expect(done.steps[0]!.error).toMatch(
        new RegExp(`holds 2 event trigger\\(s\\) \\(pggit's DDL tracking\\), which only a superuser can create, and target lp_app is reached as lp_dbowner, who is not one: ${database} was not touched$`),
      );
    });
    expect(await oid()).toBe(before);
  });
});
