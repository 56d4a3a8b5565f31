// Hostile identifiers (issue 9) through every path that builds SQL or a command line from a name:
// schema, table, column, index, constraint and view names with quotes, semicolons, spaces, dots,
// upper case, non-ASCII letters and text shaped like SQL injection, in databases whose own names are
// as hostile (an '=' too, which libpq reads as a connection string), through the rollback SQL
// (sql/008), a whole `pggit-ops rollback` run (its refill of a dropped table runs pg_restore
// --table), a restore drill (scratch database named from the run) and a recovery (drop, then
// pg_restore --create), and `pggit-ops risk --database-url`. Every injected text would drop a
// sentinel table or create a sentinel role if it ran: each case checks both, and the exact names.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BackupContext, BackupRecord } from '../activities/backup/catalog.ts';
import { runBackup } from '../activities/backup/dump.ts';
import { storeDir } from '../activities/backup/store.ts';
import { verifyBackup } from '../activities/backup/verify.ts';
import { restoreDrill } from '../activities/checks/dr/restore-drill.ts';
import { planReplacement, replaceDatabase } from '../activities/dr/recover.ts';
import type { DrContext } from '../activities/dr/pg-tools.ts';
import { TargetPools } from '../activities/pools.ts';
import type { PlanStep } from '../activities/rollback/plan.ts';
import { assessFiles, type FileReport } from '../risk/assess.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { projectRoot } from '../worker/tools.ts';
import { approveUpdate, progressQuery } from '../workflows/runbook.ts';
import { checkContext, runCheck } from './checks/context.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { copyDatabase, dropDatabase, schemaDump } from './support/rollback-scenario.ts';
import { testConfig, withWorkers } from './support/temporal.ts';

const q = (name: string) => pg.escapeIdentifier(name);

/** What an injected statement in an object's name would do: the sentinel table is gone. */
const DROP_SENTINEL = 'DROP TABLE public.sentinel; --';
/** What one in a database's name would do: a role, seen from every database of the server. */
const INJECTED_ROLE = 'pggit_ops_injected';
const database = (tag: string) => `Ops '${tag}' "x"; CREATE ROLE ${INJECTED_ROLE}; -- bıgınt=1.2`;
/** The rollback run's target database, the recovery's, and the one risk measures on. */
const ROLLBACK_DB = database('rb');
const RECOVERY_DB = database('rec');
const RISK_DB = database('risk');

const names = {
  schema: 'Sch.ema "Ops"',
  table: `x"; ${DROP_SENTINEL}`,
  nonAscii: 'bıgınt',
  column: `Col.1 "q"; ${DROP_SENTINEL}`,
  renamed: `Renamed 'c'; ${DROP_SENTINEL}`,
  added: `new "c"; ${DROP_SENTINEL}`,
  check: `ck'; ${DROP_SENTINEL}`,
  check2: `Ck2 "x"; ${DROP_SENTINEL}`,
  index: `Idx.1 "ı"; ${DROP_SENTINEL}`,
  index2: `Idx.2 "ı"; ${DROP_SENTINEL}`,
  view: `v "ü"; ${DROP_SENTINEL}`,
  dropped: `Dröp "me"; ${DROP_SENTINEL}`,
  droppedColumn: `ü "q"`,
};
const S = q(names.schema);
const T = `${S}.${q(names.table)}`;
const D = `${S}.${q(names.dropped)}`;
const N = q(names.nonAscii);

/** The objects at the point a rollback goes back to, with rows in both tables and a sentinel beside them. */
const fixture = `
  CREATE TABLE public.sentinel (id int); INSERT INTO public.sentinel VALUES (1);
  CREATE SCHEMA ${S};
  CREATE TABLE ${T} (id int PRIMARY KEY, ${N} int NOT NULL DEFAULT 0, ${q(names.column)} text DEFAULT 'it''s; ${DROP_SENTINEL}',
                     CONSTRAINT ${q(names.check)} CHECK (${N} >= 0));
  CREATE INDEX ${q(names.index)} ON ${T} (${N});
  CREATE VIEW ${S}.${q(names.view)} AS SELECT id, ${N} FROM ${T};
  COMMENT ON COLUMN ${T}.${N} IS 'it''s "quoted"; ${DROP_SENTINEL}';
  INSERT INTO ${T} (id, ${N}, ${q(names.column)}) SELECT g, g, 'row ' || g FROM generate_series(1, 20) g;
  CREATE TABLE ${D} (id int PRIMARY KEY, ${q(names.droppedColumn)} text);
  INSERT INTO ${D} SELECT g, 'välue ''' || g FROM generate_series(1, 30) g;`;

/** Changes after the point: each kind of step a rollback plans, on hostile names. */
const migrations = `
  ALTER TABLE ${T} ADD COLUMN ${q(names.added)} int DEFAULT 1;
  DROP VIEW ${S}.${q(names.view)};
  ALTER TABLE ${T} ALTER COLUMN ${N} TYPE bigint;
  CREATE VIEW ${S}.${q(names.view)} AS SELECT id, ${N} FROM ${T};
  ALTER TABLE ${T} RENAME COLUMN ${q(names.column)} TO ${q(names.renamed)};
  ALTER TABLE ${T} ALTER COLUMN ${q(names.renamed)} SET DEFAULT 'changed''; ${DROP_SENTINEL}';
  ALTER TABLE ${T} DROP CONSTRAINT ${q(names.check)};
  ALTER TABLE ${T} ADD CONSTRAINT ${q(names.check2)} CHECK (${N} < 1000000);
  CREATE INDEX ${q(names.index2)} ON ${T} (${q(names.renamed)});
  COMMENT ON COLUMN ${T}.${N} IS 'changed';
  DROP TABLE ${D};`;

const tokens = { alice: `alice-${randomBytes(6).toString('hex')}`, bob: `bob-${randomBytes(6).toString('hex')}`, carol: `carol-${randomBytes(6).toString('hex')}` };
const sha = (t: string) => createHash('sha256').update(t).digest('hex');
const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));

let server: TestPostgres;
let ops: PgConnection;
let loaded: LoadedConfig;
let pools: TargetPools;
const on = (db: string): PgConnection => ({ ...server.connection, database: db });

/** Creates `name` (dropped after the file) with pggit when asked, and the fixture in it. */
async function hostileDatabase(name: string, options: { pggit: boolean }): Promise<PgConnection> {
  expect(Buffer.byteLength(name), `${name} fits in 63 bytes (PostgreSQL would cut it)`).toBeLessThanOrEqual(63);
  await withPgClient(server.connection, (c) => c.query(`CREATE DATABASE ${q(name)}`));
  const conn = on(name);
  if (options.pggit) await installPggit(conn);
  await withPgClient(conn, (c) => c.query(fixture));
  return conn;
}

/** Nothing injected ran: the sentinel table has its row and no one created the sentinel role. */
async function expectNothingInjected(conn: PgConnection): Promise<void> {
  await withPgClient(conn, async (c) => {
    expect((await c.query(`SELECT count(*)::int AS n FROM public.sentinel`)).rows[0].n).toBe(1);
    expect((await c.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1`, [INJECTED_ROLE])).rows[0].n).toBe(0);
  });
}

/** Every table outside pggit's schemas, by its quoted name, with its row count and an md5 of its rows. */
async function tables(conn: PgConnection): Promise<Record<string, string>> {
  return withPgClient(conn, async (c) => {
    const relations = (await c.query<{ t: string }>(`SELECT format('%I.%I', n.nspname, r.relname) AS t FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
      WHERE r.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pggit', 'pggit_ops') ORDER BY 1`)).rows.map((r) => r.t);
    const found: Record<string, string> = {};
    for (const t of relations) {
      found[t] = (await c.query<{ f: string }>(`SELECT count(*) || ' rows ' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') AS f FROM ${t} x`)).rows[0]!.f;
    }
    return found;
  });
}

const now = async (conn: PgConnection) => withPgClient(conn, async (c) => (await c.query<{ at: string }>(`SELECT clock_timestamp()::text AS at`)).rows[0]!.at);

function backupContext(): BackupContext {
  return { config: loaded.config, baseDir: loaded.baseDir, pools, heartbeat: () => undefined, signal: new AbortController().signal };
}

async function verifiedBackup(target: string): Promise<BackupRecord> {
  const record = await runBackup(backupContext(), { target, kind: 'full', idempotencyKey: `hostile/${target}/${randomBytes(4).toString('hex')}` });
  expect((await verifyBackup(backupContext(), { backupId: record.backupId })).ok).toBe(true);
  return record;
}

beforeAll(async () => {
  server = await startPostgres();
  ops = server.connection;
  await installPggit(ops);
  // Their own target names: the destructive-run lock is per target name on the shared server.
  loaded = testConfig(
    { hostile_rb: on(ROLLBACK_DB), hostile_rec: on(RECOVERY_DB), ops },
    {
      ledger: { target: 'ops' },
      backups: { dir: store },
      people: {
        users: Object.fromEntries(Object.entries(tokens).map(([name, token]) => [name, { token_sha256: sha(token) }])),
        groups: { dba: ['alice', 'bob', 'carol'] },
      },
    },
  );
  pools = new TargetPools(loaded.config);
}, 120_000);

afterAll(async () => {
  await pools?.close();
  if (server) {
    for (const name of [ROLLBACK_DB, RECOVERY_DB, RISK_DB]) await dropDatabase(server, name);
    await server.stop();
  }
});

describe('the rollback SQL (sql/008) on hostile names', () => {
  let migrated: string;
  let point: string;
  let schemaAtPoint: string;

  beforeAll(async () => {
    migrated = await server.createDatabase('hostile_sql');
    await installPggit(on(migrated));
    await withPgClient(on(migrated), (c) => c.query(fixture));
    point = await now(on(migrated));
    schemaAtPoint = await schemaDump(server.url(migrated));
    await withPgClient(on(migrated), (c) => c.query(migrations));
  }, 120_000);

  /** Runs `fn` on a fresh copy of the migrated database, dropped afterwards. */
  async function onCopy(fn: (client: pg.Client, database: string) => Promise<void>): Promise<void> {
    const database = await copyDatabase(server, migrated, 'hostile_copy');
    try {
      await withPgClient(on(database), (c) => fn(c, database));
      await expectNothingInjected(on(database));
    } finally {
      await dropDatabase(server, database);
    }
  }

  it('plans every step under the exact names, rolls back to the point and runs nothing else', async () => {
    await onCopy(async (client, database) => {
      const plan = (await client.query<PlanStep>(`SELECT * FROM pggit.preview_rollback($1) ORDER BY step`, [point])).rows;
      const step = (object: string, action: string) => {
        const found = plan.find((s) => s.object_name === object && s.action === action);
        if (!found) throw new Error(`no ${action} step for ${object} in the plan:\n${plan.map((s) => `${s.step} ${s.action} ${s.object_name}`).join('\n')}`);
        return found;
      };
      expect(step(`${T}.${q(names.added)}`, 'drop')).toMatchObject({ sql: `ALTER TABLE ${T} DROP COLUMN IF EXISTS ${q(names.added)};`, loses_data: true });
      expect(step(`${T}.${q(names.renamed)}`, 'rename').sql).toBe(`ALTER TABLE ${T} RENAME COLUMN ${q(names.renamed)} TO ${q(names.column)};`);
      expect(step(`${T}.${N}`, 'alter type').sql).toBe(`ALTER TABLE ${T} ALTER COLUMN ${N} TYPE integer USING ${N}::integer;`);
      expect(step(`${q(names.check2)} on ${T}`, 'drop').sql).toBe(`ALTER TABLE ${T} DROP CONSTRAINT IF EXISTS ${q(names.check2)};`);
      expect(step(`${S}.${q(names.index2)}`, 'drop').sql).toBe(`DROP INDEX IF EXISTS ${S}.${q(names.index2)};`);
      expect(step(`${S}.${q(names.view)}`, 'drop to recreate').sql).toBe(`DROP VIEW IF EXISTS ${S}.${q(names.view)};`);
      expect(step(D, 'create')).toMatchObject({ needs_backup_data: true });
      expect(step(`${q(names.check)} on ${T}`, 'create').sql).toBe(`ALTER TABLE ${T} ADD CONSTRAINT ${q(names.check)} CHECK ((${N} >= 0));`);

      const result = (await client.query(`SELECT pggit.rollback_to_timestamp($1, allow_data_loss => true) AS r`, [point])).rows[0].r;
      expect(result).toMatchObject({ data_lost: [`${T}.${q(names.added)}`], recreated_without_data: [D] });
      expect(await schemaDump(server.url(database))).toBe(schemaAtPoint);
      expect((await client.query(`SELECT * FROM pggit.verify_rollback($1)`, [point])).rows).toEqual([]);
      expect((await client.query(`SELECT * FROM pggit.preview_rollback($1)`, [point])).rows).toEqual([]);
      expect((await client.query(`SELECT count(*)::int AS n FROM pggit.tracking_errors`)).rows[0].n).toBe(0);
    });
  });

  it('rolls one hostile table back to a version, named as pggit records it', async () => {
    await onCopy(async (client) => {
      const version = (await client.query<{ v: string }>(
        `SELECT h.version_after AS v FROM pggit.history h WHERE h.full_name = $1 AND h.change_timestamp <= $2 ORDER BY h.id DESC LIMIT 1`, [T, point],
      )).rows[0]!.v;
      const plan = (await client.query<PlanStep>(`SELECT * FROM pggit.preview_rollback_object($1, $2) ORDER BY step`, [T, version])).rows;
      expect(plan.length).toBeGreaterThan(0);
      expect(plan.every((s) => s.object_name === T || s.object_name.startsWith(`${T}.`) || s.object_name.endsWith(` on ${T}`) || s.object_name.startsWith(`${S}.`))).toBe(true);
      const result = (await client.query(`SELECT pggit.rollback_object($1, $2, allow_data_loss => true) AS r`, [T, version])).rows[0].r;
      expect(result).toMatchObject({ object: T, data_lost: [`${T}.${q(names.added)}`] });
      const columns = (await client.query<{ a: string }>(
        `SELECT attname AS a FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [T],
      )).rows.map((r) => r.a);
      expect(columns).toEqual(['id', names.nonAscii, names.column]);
      // The object rollback leaves the dropped table alone.
      expect((await client.query(`SELECT to_regclass($1) AS t`, [D])).rows[0].t).toBeNull();
    });
  });
});

describe('pggit-ops rollback of a target whose database and objects have hostile names', () => {
  /** The real CLI, as `who` (an operator token), with the targets' secrets in its environment. */
  function cli(args: string[], who?: keyof typeof tokens) {
    const env: Record<string, string> = who ? { PGGIT_OPS_OPERATOR_TOKEN: tokens[who] } : {};
    for (const target of Object.values(loaded.config.targets)) env[target.password_env!] = server.connection.password;
    return execa('node', [path.join(projectRoot, 'cli/bin.mjs'), '--config', loaded.file!, ...args], { reject: false, env });
  }

  async function gateOpen(client: Client, runId: string): Promise<number> {
    for (let i = 0; i < 300; i++) {
      const progress = await client.workflow.getHandle(runId).query(progressQuery).catch(() => undefined);
      const gate = progress?.steps.find((s) => s.id === 'safety_backup');
      if (gate?.status === 'waiting_approval') return gate.approval!.quorum;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('timed out waiting for the approval gate');
  }

  it('rolls back, refilling the dropped table from a backup with pg_restore --table, and runs nothing else', async () => {
    const app = await hostileDatabase(ROLLBACK_DB, { pggit: true });
    const backup = await verifiedBackup('hostile_rb');
    const rows = await tables(app);
    const point = await now(app);
    const schemaAtPoint = await schemaDump(server.url(ROLLBACK_DB));
    await withPgClient(app, (c) => c.query(migrations));

    await withWorkers(loaded, async (client) => {
      const preview = await cli(['rollback', '--db', 'hostile_rb', '--to', point, '--preview', '--json']);
      expect(preview.exitCode, preview.stderr).toBe(0);
      expect(JSON.parse(preview.stdout)).toMatchObject({ data_lost: [`${T}.${q(names.added)}`], dropped_tables: [{ table: D, backup_id: backup.backupId }] });

      const started = await cli(['rollback', '--db', 'hostile_rb', '--to', point, '--json'], 'carol');
      expect(started.exitCode, started.stderr).toBe(0);
      const { runId } = JSON.parse(started.stdout) as { runId: string };
      expect(await gateOpen(client, runId)).toBe(2);
      for (const approver of ['alice', 'bob']) {
        await client.workflow.getHandle(runId).executeUpdate(approveUpdate, { args: [{ stepId: 'safety_backup', decision: 'approve', approver, reason: 'ok' }] });
      }
      await client.workflow.getHandle(runId).result().catch(() => undefined);

      const report = await cli(['report', runId, '--json']);
      const done = JSON.parse(report.stdout) as { status: string; steps: Array<{ id: string; status: string; summary: string | null; error: string | null }> };
      expect(done.steps.map((s) => [s.id, s.status, s.error])).toEqual([
        ['preview', 'succeeded', null], ['safety_backup', 'succeeded', null], ['apply', 'succeeded', null], ['restore_data', 'succeeded', null], ['verify', 'succeeded', null],
      ]);
      expect(done.steps.find((s) => s.id === 'restore_data')!.summary).toBe(`1 of 1 re-created tables refilled (${D}: 30 rows)`);
    });
    expect(await schemaDump(server.url(ROLLBACK_DB))).toBe(schemaAtPoint);
    // The refilled table has its rows back, the other its rows as they were (the added column went with its values).
    expect(await tables(app)).toEqual(rows);
    await expectNothingInjected(app);
  });
});

describe('a restore drill and a recovery of a database with a hostile name', () => {
  let app: PgConnection;
  let backup: BackupRecord;
  let before: Record<string, string>;

  beforeAll(async () => {
    app = await hostileDatabase(RECOVERY_DB, { pggit: true });
    backup = await verifiedBackup('hostile_rec');
    before = await tables(app);
  }, 120_000);

  it('drills the backup in a scratch database named safely from a run id holding the name, and drops it', async () => {
    const ctx = await checkContext(app, ops, 'hostile_rec');
    try {
      const result = await runCheck(restoreDrill, { ...ctx, runId: `drill/${RECOVERY_DB}/1`, worker: { loaded, pools } });
      expect(result.findings.filter((f) => f.severity === 'critical')).toEqual([]);
      expect(result.data).toMatchObject({ pass: true, backup_id: backup.backupId });
      expect(result.data!.scratch).toMatch(/^pggit_drill_[a-z0-9_]+$/);
    } finally {
      await ctx.end();
    }
    const left = await withPgClient(ops, async (c) => (await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pggit\\_drill\\_%'`)).rows);
    expect(left).toEqual([]);
    await expectNothingInjected(app);
  });

  it('recovers: drops the database and recreates it under its exact name with pg_restore --create', async () => {
    await withPgClient(app, (c) => c.query(`INSERT INTO ${T} (id) VALUES (1000); DROP TABLE ${D}; CREATE TABLE ${S}."later; ${DROP_SENTINEL}" (x int)`));
    expect(await tables(app)).not.toEqual(before);
    const dr: DrContext = { config: loaded.config, heartbeat: vi.fn(), signal: new AbortController().signal };
    const plan = await planReplacement(dr, pools, { target: 'hostile_rec', backup: { path: path.join(storeDir(loaded.config, loaded.baseDir), backup.path), format: backup.format } });
    expect(plan.database).toBe(RECOVERY_DB);
    const replaced = await replaceDatabase(dr, plan);
    expect(replaced.findings.filter((f) => f.severity === 'critical')).toEqual([]);
    expect(replaced.ok).toBe(true);
    expect(replaced.resynced).toBeGreaterThan(0);
    expect(await tables(app)).toEqual(before);
    await expectNothingInjected(app);
  });
});

describe('pggit-ops risk --database-url on hostile names', () => {
  it('measures on a database with a hostile name, counts the rows of the tables it rewrites by their exact names, and leaves nothing', async () => {
    // Two tables of one hostile name, never analyzed (so their rows are counted): one in public, one in the hostile schema.
    const db = await hostileDatabase(RISK_DB, { pggit: false });
    await withPgClient(db, (c) => c.query(`CREATE TABLE public.${q(names.table)} (${N} int); INSERT INTO public.${q(names.table)} SELECT generate_series(1, 5)`));
    const catalog = () => withPgClient(db, async (c) => (await c.query(`SELECT oid::regclass::text AS name, relfilenode::text, relkind FROM pg_class WHERE oid >= 16384 ORDER BY 1`)).rows);
    const unchanged = await catalog();
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'pggit-ops-hostile-risk-')), `it's "hostile"; ${DROP_SENTINEL}.sql`);
    // The search_path change makes the unqualified name of the public table mean the other one.
    // A volatile default rewrites the table (its view keeps the other's column types from changing).
    writeFileSync(file, `SET search_path = ${S};
ALTER TABLE public.${q(names.table)} ALTER COLUMN ${N} TYPE bigint;
ALTER TABLE ${q(names.table)} ADD COLUMN ${q(names.added)} timestamptz DEFAULT clock_timestamp();
`);
    const [report] = (await assessFiles([file], { databaseUrl: server.url(RISK_DB) })) as FileReport[];
    expect(report!.measured!.map((m) => m.rewrites)).toEqual([
      [],
      [{ table: q(names.table), rows: 5 }],
      [{ table: T, rows: 20 }],
    ]);
    expect(report!.findings.filter((f) => f.rule === 'migration-fails')).toEqual([]);
    expect(await catalog()).toEqual(unchanged);
    await expectNothingInjected(db);
  });
});
