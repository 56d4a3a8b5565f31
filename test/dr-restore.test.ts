// Restore drills and PITR readiness on real clusters, without Temporal: the activities are called
// as the drill workflow will call them. The source is Pagila with pggit plus tables whose names
// need quoting; its backups are made here with pg_dump (custom and directory formats), and each
// fault is planted for real: in the restored copy a changed row, a dropped table, emptied tables, a
// dependency on nothing and an index that lies about its table; bytes flipped in a backup, an owner
// role the drill server lacks, leftovers of a crashed worker, a cancellation in the middle of a big
// restore. PITR readiness is read on the test cluster and on one of its own that archives WAL.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig, type Config } from '../worker/config.ts';
import { freePort, LocalCluster } from '../worker/local-postgres.ts';
import { pgBin } from '../worker/tools.ts';
import { pitrReadiness } from '../activities/dr/pitr-check.ts';
import { assessPitr, classifyArchiveCommand } from '../activities/dr/pitr.ts';
import { proveRestore } from '../activities/dr/prove.ts';
import { restoreInto, type BackupFile } from '../activities/dr/restore.ts';
import { createScratch, dropOrphanedScratch, dropScratch, scratchName, type ScratchDatabase } from '../activities/dr/scratch.ts';
import type { DrContext } from '../activities/dr/pg-tools.ts';
import { codes, pggitDatabase, problems, runCheck, until, withCheckContext } from './checks/context.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { testConfig } from './support/temporal.ts';

const WEIRD = `public."we""ird tåble ☃"`;
const SPACED = `"Sp ace"."tab'le"`;

let server: TestPostgres;
let source: PgConnection;
let drill: PgConnection;
let dir: string;
let custom: BackupFile;
let directory: BackupFile;
/** Targets `source` and `drill` (backups.drill_target: the drill's scratch databases go to its server). */
let config: Config;

async function pgDump(db: PgConnection, file: string, format: BackupFile['format']): Promise<BackupFile> {
  await execa(pgBin('pg_dump'), [`--format=${format}`, `--file=${file}`, '--host', db.host, '--port', String(db.port), '--username', db.user, '--no-password', db.database], {
    env: { ...process.env, PGPASSWORD: db.password },
    stdin: 'ignore',
  });
  return { path: file, format };
}

function drContext(cfg: Config = config): DrContext & { abort: AbortController; heartbeat: ReturnType<typeof vi.fn<(details?: unknown) => void>> } {
  const abort = new AbortController();
  return { config: cfg, heartbeat: vi.fn<(details?: unknown) => void>(), signal: abort.signal, abort };
}

async function databases(): Promise<string[]> {
  return withPgClient(server.connection, async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database ORDER BY 1`)).rows.map((r) => r.datname));
}

async function onScratch<T>(scratch: ScratchDatabase, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withPgClient({ ...server.connection, database: scratch.database }, fn);
}

/** pg_restore processes restoring into `database`: their arguments and environment, as the OS shows them to other users (argv) and to root (environ). */
function pgRestoresInto(database: string): Array<{ argv: string[]; environ: string[] }> {
  const found: Array<{ argv: string[]; environ: string[] }> = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0] === pgBin('pg_restore') && argv.includes(`--dbname=${database}`)) found.push({ argv, environ: readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0') });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** A drill id unique to this run (the server may be shared, with DATABASE_URL). */
const drillId = (name: string) => `drill/source/${name}-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  server = await startPostgres();
  dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-dr-'));
  source = await pggitDatabase(server, 'drsource', true);
  drill = { ...server.connection, database: await server.createDatabase('drill') };
  await withPgClient(source, async (c) => {
    await c.query(`CREATE TABLE ${WEIRD} (id int PRIMARY KEY, "naïve ""col""" text, t text)`);
    await c.query(`INSERT INTO ${WEIRD} SELECT g, 'välue ' || g, 'row ' || g FROM generate_series(1, 50) g`);
    await c.query(`CREATE SCHEMA "Sp ace"`);
    await c.query(`CREATE TABLE ${SPACED} (id int, note text)`);
    await c.query(`INSERT INTO ${SPACED} SELECT g, NULL FROM generate_series(1, 7) g`);
  });
  custom = await pgDump(source, path.join(dir, 'source.dump'), 'custom');
  directory = await pgDump(source, path.join(dir, 'source.dir'), 'directory');
  config = testConfig({ source, drill }, { backups: { drill_target: 'drill' } }).config;
});
afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('PITR readiness', () => {
  it('on the test cluster (archive_mode off): critical, saying a restore loses everything since the last backup', async () => {
    const result = await withCheckContext(source, (ctx) => runCheck(pitrReadiness, ctx));
    expect(codes(result)).toEqual(['critical archive_mode_off']);
    expect(result.findings[0]!.message).toMatch(/no WAL is archived, so a restore can only return to the last backup .*no point-in-time recovery/);
    expect(result.summary).toBe('WAL not archived (archive_mode off): 1 critical');
    expect(result.data).toMatchObject({ walLevel: 'replica', archiveMode: 'off', archiveCommand: null, rpoSeconds: null, failedCount: 0 });
  });

  it('on a cluster that archives: the command judged, the RPO measured; the guide\'s cp command flagged and, failing, critical', async () => {
    const clusterDir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-pitr-'));
    const password = randomBytes(12).toString('hex');
    const cluster = new LocalCluster({ dir: clusterDir, port: await freePort(), password, durable: false });
    const onExit = () => cluster.stopSync();
    process.once('exit', onExit);
    try {
      await cluster.ensureInitialized();
      await cluster.start();
      const conn: PgConnection = { host: '127.0.0.1', port: cluster.options.port, user: 'postgres', password, database: 'postgres' };
      const archive = path.join(clusterDir, 'archive');
      await withPgClient(conn, async (c) => {
        await c.query(`ALTER SYSTEM SET archive_mode = on`);
        await c.query(`ALTER SYSTEM SET archive_command = 'mkdir -p ${archive} && test ! -f ${archive}/%f && cp %p ${archive}/%f'`);
      });
      await cluster.stop();
      await cluster.start();
      const assess = (maxArchiveAgeSeconds: number) => withPgClient(conn, (c) => assessPitr(c, { maxArchiveAgeSeconds }));
      const switchWal = () => withPgClient(conn, (c) => c.query(`CREATE TABLE t${randomBytes(3).toString('hex')} (); SELECT pg_switch_wal()`));
      await switchWal();

      const ready = await until(() => assess(3600), (a) => a.measurements.archivedCount > 0);
      expect(ready.findings.map((f) => `${f.severity} ${f.code}`)).toEqual(['info archive_command_ok', 'info pitr_ready']);
      expect(ready.measurements).toMatchObject({ archiveMode: 'on', archiveCommand: { kind: 'ok', tool: 'cp' }, failedCount: 0, lastArchivedWal: expect.stringMatching(/^[0-9A-F]{24}$/) });
      expect(ready.measurements.rpoSeconds).toBeLessThan(60);
      expect(JSON.stringify(ready)).not.toContain(archive); // the command itself is never reported
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await assess(0)).findings.map((f) => f.code)).toEqual(['archive_command_ok', 'archive_stale']);

      await withPgClient(conn, async (c) => {
        // The guide's command, into a folder that does not exist.
        await c.query(`ALTER SYSTEM SET archive_command = 'cp %p ${path.join(clusterDir, 'backup', 'wal')}/%f'`);
        await c.query(`SELECT pg_reload_conf()`);
      });
      await switchWal();
      const failing = await until(() => assess(3600), (a) => a.measurements.failedCount > 0);
      expect(failing.findings.map((f) => `${f.severity} ${f.code}`)).toEqual(['warning archive_command_overwrites', 'critical archive_failing']);
      expect(failing.findings[1]!.message).toMatch(/^WAL archiving is failing: [0-9A-F]{24} failed at .* and nothing was archived since/);
    } finally {
      process.removeListener('exit', onExit);
      await cluster.stop().catch(() => undefined);
      rmSync(clusterDir, { recursive: true, force: true });
    }
  });

  it('classifies archive commands by what they do to an existing archive file', () => {
    const expected: Record<string, string> = {
      'cp %p /backup/wal/%f': 'warning overwrites cp', // the guide's own
      'rsync -a %p backup:/wal/%f': 'warning overwrites rsync',
      '/bin/cp %p "/mnt/wal archive/%f"': 'warning overwrites cp',
      'aws s3 cp %p s3://bucket/wal/%f': 'warning overwrites aws s3 cp',
      'test ! -f /a/%f && cp %p /a/%f': 'info ok cp',
      '[ ! -f /mnt/server/archivedir/%f ] && cp %p /mnt/server/archivedir/%f': 'info ok cp',
      'cp -n %p /a/%f': 'warning skips_existing cp',
      'pgbackrest --stanza=main archive-push %p': 'info ok pgBackRest',
      'wal-g wal-push %p': 'info ok WAL-G',
      'envdir /etc/wal-g.d/env /usr/local/bin/wal-g wal-push %p': 'info ok WAL-G',
      'barman-wal-archive backup-host pg %p': 'info ok Barman',
      '': 'critical not_archiving',
      '  ': 'critical not_archiving',
      '/bin/true': 'critical not_archiving',
      '/usr/local/bin/archive-wal.sh %p %f': 'info unknown',
    };
    const verdicts = Object.fromEntries(
      Object.keys(expected).map((command) => {
        const v = classifyArchiveCommand(command);
        return [command, `${v.severity} ${v.kind}${v.tool ? ` ${v.tool}` : ''}`];
      }),
    );
    expect(verdicts).toEqual(expected);
    expect(classifyArchiveCommand('cp %p /backup/wal/%f').reason).toMatch(/replaces an existing archive file without a check/);
    expect(classifyArchiveCommand('/bin/true').reason).toMatch(/without storing anything/);
  });
});

describe('scratch databases', () => {
  it('are named pggit_drill_<id>: sanitised, at most 63 bytes, the same for the same id, apart for ids sanitised alike', () => {
    expect(scratchName('drill/prod/20261124T080000Z-3f2a')).toMatch(/^pggit_drill_drill_prod_20261124t080000z_3f2a_[0-9a-f]{8}$/);
    expect(scratchName('x')).toBe(scratchName('x'));
    expect(scratchName('a/b')).not.toBe(scratchName('a-b'));
    for (const id of ['', 'Ünïcødé "quoted"; DROP DATABASE prod', 'y'.repeat(500), '☃'.repeat(100)]) {
      const name = scratchName(id);
      expect(name).toMatch(/^pggit_drill_[a-z0-9_]+$/);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    }
  });

  it('are the only databases dropScratch and restoreInto accept', async () => {
    const victim = { target: 'drill', database: source.database };
    await expect(dropScratch(config, victim)).rejects.toThrow(/refusing to use database '.*' as a scratch database/);
    await expect(restoreInto(drContext(), { scratch: victim, backup: custom })).rejects.toThrow(/refusing/);
    expect(await databases()).toContain(source.database);
  });

  it('left behind by a crashed worker are dropped by dropOrphanedScratch, sessions and all; a running drill\'s is kept', async () => {
    const old = await createScratch(config, { id: drillId('crashed'), source: 'source' });
    const fresh = await createScratch(config, { id: drillId('running'), source: 'source' });
    const unmarked = `pggit_drill_unmarked_${randomBytes(3).toString('hex')}`;
    await withPgClient(server.connection, async (c) => {
      await c.query(`COMMENT ON DATABASE ${old.database} IS '{"pggit_ops_drill": {"created_at": "${new Date(Date.now() - 2 * 86_400_000).toISOString()}"}}'`);
      await c.query(`CREATE DATABASE ${unmarked}`);
    });
    // A pg_restore that outlived its worker still holds a session.
    const survivor = new pg.Client({ ...server.connection, database: old.database });
    survivor.on('error', () => undefined);
    await survivor.connect();
    try {
      const result = await dropOrphanedScratch(config, 'drill', 3_600_000);
      expect(result.dropped).toEqual(expect.arrayContaining([old.database, unmarked]));
      expect(result.kept).toEqual([fresh.database]);
      const now = await databases();
      expect(now).not.toContain(old.database);
      expect(now).not.toContain(unmarked);
      expect(now).toEqual(expect.arrayContaining([fresh.database, source.database, drill.database]));
    } finally {
      await survivor.end().catch(() => undefined);
      await dropScratch(config, fresh);
    }
  });
});

describe('restore drill', () => {
  it('restores a Pagila + pggit backup on the drill server and passes every proof; the scratch database is dropped after success', async () => {
    const ctx = drContext();
    const scratch = await createScratch(config, { id: drillId('ok'), source: 'source' });
    expect(scratch.target).toBe('drill');
    try {
      const restore = await restoreInto(ctx, { scratch, backup: custom });
      expect(restore.findings.map((f) => `${f.severity} ${f.code}`)).toEqual(['info restore_completed']);
      expect(restore.ok).toBe(true);
      expect(restore.measurements.restoreMs).toBeGreaterThan(0);
      expect(restore.measurements.backupAgeSeconds).toBeLessThan(600);
      expect(Date.parse(restore.measurements.backupCreatedAt!)).toBeGreaterThan(Date.now() - 600_000);
      expect(ctx.heartbeat).toHaveBeenCalledWith(expect.objectContaining({ phase: 'restore', last: expect.stringMatching(/^pg_restore: /) }));

      const proof = await proveRestore(ctx, { source: 'source', scratch });
      expect(problems({ summary: '', findings: proof.findings })).toEqual([]);
      expect(proof.findings.map((f) => f.code)).toEqual(['amcheck_passed']);
      expect(proof.pass).toBe(true);
      expect(proof.measurements).toMatchObject({ amcheck: 'passed', dataExcludedSchemas: ['pggit_ops'] });
      expect(proof.measurements.tables).toBeGreaterThan(20);
      expect(proof.measurements.checksummedTables).toBe(proof.measurements.tables);
      expect(proof.measurements.rowsInSource).toBeGreaterThan(40_000);
      const compared = ctx.heartbeat.mock.calls.map(([d]) => (d as { table?: string }).table);
      expect(compared).toEqual(expect.arrayContaining([WEIRD, SPACED, 'public.film', 'pggit.history']));

      // With a small checksum limit the big tables are compared by row count only, and say so.
      const small = testConfig({ source, drill }, { backups: { drill_target: 'drill', checksum_max_table_bytes: 100_000 } }).config;
      const counted = await proveRestore(drContext(small), { source: 'source', scratch });
      expect(counted.pass).toBe(true);
      const skipped = counted.findings.find((f) => f.code === 'checksum_skipped')!;
      expect(skipped.severity).toBe('info');
      expect(skipped.message).toMatch(/tables larger than 97.7 kB .* were compared by row count only: .*public\.rental/);
      expect(counted.measurements.checksummedTables).toBeLessThan(counted.measurements.tables);
    } finally {
      expect(await dropScratch(config, scratch)).toEqual({ dropped: true });
    }
    expect(await dropScratch(config, scratch)).toEqual({ dropped: false });
    expect(await databases()).not.toContain(scratch.database);
  });

  it('names each table whose rows changed in the restored copy (directory format, 2 jobs, scratch on the source\'s own server)', async () => {
    const own = testConfig({ source, drill }).config;
    const ctx = drContext(own);
    const scratch = await createScratch(own, { id: drillId('changed'), source: 'source' });
    expect(scratch.target).toBe('source');
    try {
      const restore = await restoreInto(ctx, { scratch, backup: directory, jobs: 2 });
      expect(restore.ok).toBe(true);
      expect(restore.measurements.jobs).toBe(2);
      await onScratch(scratch, async (c) => {
        await c.query(`UPDATE public.film SET rental_rate = rental_rate + 1 WHERE film_id = 42`);
        await c.query(`UPDATE ${WEIRD} SET "naïve ""col""" = 'changed' WHERE id = 7`);
        await c.query(`UPDATE ${SPACED} SET note = '' WHERE id = 3`); // NULL and '' must not look alike
      });
      const proof = await proveRestore(ctx, { source: 'source', scratch });
      expect(proof.pass).toBe(false);
      const changed = proof.findings.filter((f) => f.code === 'checksum_mismatch');
      expect(changed.map((f) => f.details?.table)).toEqual([SPACED, WEIRD, 'public.film']);
      expect(changed.every((f) => f.severity === 'critical')).toBe(true);
      expect(changed[2]!.message).toBe('contents of public.film differ from the source: same 1000 rows, different checksum');
      expect(proof.findings.filter((f) => f.severity === 'critical').map((f) => f.code)).toEqual(['checksum_mismatch', 'checksum_mismatch', 'checksum_mismatch']);
    } finally {
      await dropScratch(own, scratch);
    }
  });

  it('reports each fault planted in the restored copy: a dropped table, emptied tables, a dependency on nothing, an index that lies about its table', async () => {
    const ctx = drContext();
    const scratch = await createScratch(config, { id: drillId('faults'), source: 'source' });
    try {
      expect((await restoreInto(ctx, { scratch, backup: custom })).ok).toBe(true);
      await onScratch(scratch, async (c) => {
        await c.query(`DROP TABLE ${SPACED}`);
        // More emptied tables than findings are listed one by one (actor keeps its rows for the index below).
        await c.query(`DO $$ BEGIN
                         EXECUTE (SELECT 'TRUNCATE ' || string_agg(oid::regclass::text, ', ') || ' CASCADE' FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname <> 'actor');
                       END $$`);
        await c.query(`INSERT INTO pggit.dependencies (dependent_object, dependency_object, dependency_type) VALUES ('public.film', 'public.no_such_thing', 'n')`);
        // An index over an "immutable" function that then changes: its entries no longer match the heap.
        await c.query(`CREATE FUNCTION public.shifted(integer) RETURNS integer IMMUTABLE LANGUAGE sql AS 'SELECT $1'`);
        await c.query(`CREATE INDEX actor_shifted ON public.actor (public.shifted(actor_id))`);
        await c.query(`CREATE OR REPLACE FUNCTION public.shifted(integer) RETURNS integer IMMUTABLE LANGUAGE sql AS 'SELECT -$1'`);
      });
      const proof = await proveRestore(ctx, { source: 'source', scratch });
      expect(proof.pass).toBe(false);

      const schema = proof.findings.find((f) => f.code === 'schema_differs')!;
      expect(schema.severity).toBe('critical');
      expect(schema.details?.only_in_source).toEqual(expect.arrayContaining([`CREATE TABLE ${SPACED} (`, `ALTER TABLE ${SPACED} OWNER TO postgres;`]));
      expect(schema.details?.only_in_restored).toEqual(expect.arrayContaining(['CREATE INDEX actor_shifted ON public.actor USING btree (public.shifted(actor_id));']));
      expect(schema.message).toContain(`only in the restored copy; the first: CREATE TABLE ${SPACED} (`);

      expect(proof.findings).toContainEqual(expect.objectContaining({ code: 'integrity_failed', severity: 'critical', message: expect.stringContaining('MISSING DEPENDENCY: public.film depends on public.no_such_thing') }));
      expect(proof.findings).toContainEqual({
        code: 'missing_dependency',
        severity: 'critical',
        message: "MISSING DEPENDENCY: public.film depends on public.no_such_thing (the guide's missing-dependency query)",
        details: { dependent_object: 'public.film', dependency_object: 'public.no_such_thing', status: 'MISSING DEPENDENCY' },
      });

      const amcheck = proof.findings.find((f) => f.code.startsWith('amcheck'))!;
      expect(amcheck).toMatchObject({ code: 'amcheck_failed', severity: 'critical' });
      expect((amcheck.details?.output as string[]).join('\n')).toMatch(/lacks matching index tuple within index "actor_shifted"/);
      expect(proof.measurements.amcheck).toBe('failed');
      const counts = proof.findings.filter((f) => f.code === 'row_count_mismatch');
      expect(counts[0]).toEqual({
        code: 'row_count_mismatch',
        severity: 'critical',
        message: `row count of ${SPACED} differs: 7 rows in the source, no such table in the restored copy`,
        details: { table: SPACED, source_rows: 7, restored_rows: null },
      });
      expect(counts).toContainEqual(expect.objectContaining({ message: 'row count of public.customer differs: 599 rows in the source, 0 rows in the restored copy' }));
      expect(counts).toHaveLength(21);
      const rest = counts[20]!;
      expect(rest.message).toMatch(/^\.\.\. and \d+ more like the above$/);
      expect(rest.details?.omitted).toEqual(expect.arrayContaining([expect.stringMatching(/^row count of public\.rental differs: 16044 rows in the source, 0 rows/)]));
    } finally {
      await dropScratch(config, scratch);
    }
  });

  it('fails with a clear finding on a backup with flipped bytes, and on a missing one; the scratch database is dropped after failure', async () => {
    const bytes = readFileSync(custom.path);
    for (let i = 0; i < 16; i++) bytes[Math.floor(bytes.length / 2) + i]! ^= 0xff;
    const corrupt: BackupFile = { path: path.join(dir, 'corrupt.dump'), format: 'custom' };
    writeFileSync(corrupt.path, bytes);
    const scratch = await createScratch(config, { id: drillId('corrupt'), source: 'source' });
    try {
      const restore = await restoreInto(drContext(), { scratch, backup: corrupt });
      expect(restore.ok).toBe(false);
      const failed = restore.findings.find((f) => f.severity === 'critical')!;
      expect(failed.code).toBe('restore_failed');
      expect(failed.message).toMatch(new RegExp(`^restore of ${corrupt.path} stopped: could not (uncompress|read)`));
      expect(failed.details).toMatchObject({ exit_code: 1, path: corrupt.path });

      const missing = await restoreInto(drContext(), { scratch, backup: { path: path.join(dir, 'nope.dump'), format: 'custom' } });
      expect(missing.ok).toBe(false);
      expect(missing.findings).toEqual([expect.objectContaining({ code: 'backup_unreadable', severity: 'critical', message: expect.stringMatching(/could not open input file/) })]);
    } finally {
      expect(await dropScratch(config, scratch)).toEqual({ dropped: true });
    }
    expect(await databases()).not.toContain(scratch.database);
  });

  it('restores with owners as dumped; an owner role the drill server lacks is a warning naming it, not a failure (targets given as URLs)', async () => {
    const role = `dr_owner_${randomBytes(3).toString('hex')}`;
    const owned = { ...server.connection, database: await server.createDatabase('drowned') };
    await withPgClient(owned, async (c) => {
      await c.query(`CREATE ROLE ${role}`);
      await c.query(`CREATE TABLE accounts (id int PRIMARY KEY); INSERT INTO accounts SELECT generate_series(1, 10)`);
      await c.query(`ALTER TABLE accounts OWNER TO ${role}`);
    });
    const backup = await pgDump(owned, path.join(dir, 'owned.dump'), 'custom');
    await withPgClient(owned, (c) => c.query(`ALTER TABLE accounts OWNER TO postgres; DROP ROLE ${role}`));
    // Both targets given as URLs (url_env), as a hosted database often is.
    const tag = randomBytes(3).toString('hex');
    const urlTargets: Record<string, { url_env: string }> = {};
    for (const [name, db] of Object.entries({ owned, drill })) {
      const env = `PGGIT_OPS_TEST_URL_${tag}_${name}`;
      process.env[env] = `${server.url(db.database)}?sslmode=disable&application_name=pggit-ops-drill`;
      urlTargets[name] = { url_env: env };
    }
    const file = path.join(dir, `url-${tag}.config.yaml`);
    writeFileSync(file, stringify({ targets: urlTargets, backups: { drill_target: 'drill' } }));
    const cfg = loadConfig({ file, env: {} }).config;
    const ctx = drContext(cfg);
    const scratch = await createScratch(cfg, { id: drillId('owner'), source: 'owned' });
    try {
      const restore = await restoreInto(ctx, { scratch, backup });
      expect(restore.ok).toBe(true);
      expect(restore.findings.map((f) => `${f.severity} ${f.code}`)).toEqual(['warning restore_missing_roles', 'info restore_completed']);
      expect(restore.findings[0]!.details).toEqual({ roles: [role], statements: [`ALTER TABLE public.accounts OWNER TO ${role};`], statements_omitted: 0 });
      // The source's owner is now the restoring role too, so the copy matches it.
      const proof = await proveRestore(ctx, { source: 'owned', scratch });
      expect(proof.findings.map((f) => `${f.severity} ${f.code}`)).toEqual(['info pggit_not_installed', 'info amcheck_passed']);
      expect(proof.pass).toBe(true);
    } finally {
      await dropScratch(cfg, scratch);
    }
  });

  it('cancelled in the middle of a 2M-row restore: pg_restore is killed at once and the scratch database can be dropped', async () => {
    const big = { ...server.connection, database: await server.createDatabase('drbig') };
    await withPgClient(big, (c) => c.query(`CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000000) g; ALTER TABLE big ADD PRIMARY KEY (id)`));
    const backup = await pgDump(big, path.join(dir, 'big.dump'), 'custom');
    const ctx = drContext();
    const scratch = await createScratch(config, { id: drillId('cancel'), source: 'source' });
    let abortedAt = 0;
    let running: ReturnType<typeof pgRestoresInto> = [];
    ctx.heartbeat.mockImplementation((details) => {
      if (!abortedAt && /processing data for table "public\.big"/.test((details as { last?: string }).last ?? '')) {
        running = pgRestoresInto(scratch.database);
        abortedAt = performance.now();
        ctx.abort.abort();
      }
    });
    try {
      await expect(restoreInto(ctx, { scratch, backup })).rejects.toMatchObject({ name: 'AbortError' });
      expect(abortedAt).toBeGreaterThan(0);
      expect(performance.now() - abortedAt).toBeLessThan(5000);
      // While it ran: the password in its environment only, and none of the worker's PG* secrets.
      expect(running).toHaveLength(1);
      expect(running[0]!.argv.join(' ')).not.toContain(server.connection.password);
      expect(running[0]!.environ).toContain(`PGPASSWORD=${server.connection.password}`);
      expect(running[0]!.environ.filter((e) => e.startsWith('PGGIT_OPS_'))).toEqual([]);
      // Now no pg_restore is left running into the scratch database...
      expect(pgRestoresInto(scratch.database)).toEqual([]);
      // ...and its server session ends (pg_restore cancels its COPY as it dies).
      const sessions = await until(
        () => withPgClient(server.connection, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [scratch.database])).rows[0].n as number),
        (n) => n === 0,
      );
      expect(sessions).toBe(0);
      // The COPY was cancelled, not finished: the table holds no rows.
      expect(await onScratch(scratch, async (c) => (await c.query(`SELECT count(*)::int AS n FROM public.big`)).rows[0].n)).toBe(0);
    } finally {
      expect(await dropScratch(config, scratch)).toEqual({ dropped: true });
    }
    expect(await databases()).not.toContain(scratch.database);
  });
});
