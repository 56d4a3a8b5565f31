// The backup activities (activities/backup/) on a real cluster, called as plain functions with the
// context the worker gives them: Pagila dumped whole and pggit alone, in custom and directory
// format, each file checked against an independent sha256 and pg_restore; retries by idempotency
// key, a crashed attempt's leftovers, cancellation of a real dump mid-way, an old pg_dump refused,
// awkward database names and hostile PG* variables, corruption caught by verification, and
// retention on calendar buckets that never deletes the newest verified backup.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { latestBackup, type BackupContext, type BackupRecord } from '../activities/backup/catalog.ts';
import { libpqConnection, PG_DUMP_APPLICATION_NAME, runBackup, type BackupInput } from '../activities/backup/dump.ts';
import { applyRetention, selectRetained, type RetentionCandidate } from '../activities/backup/retention.ts';
import { assertPgDumpCompatible, parsePgDumpVersion } from '../activities/backup/versions.ts';
import { verifyBackup } from '../activities/backup/verify.ts';
import { TargetPools } from '../activities/pools.ts';
import type { Config, LoadedConfig } from '../worker/config.ts';
import { pgBin } from '../worker/tools.ts';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';
import { testConfig } from './support/temporal.ts';

// ';' and '=' too: a URL's path must be decoded as libpq does, and '=' makes libpq read a --dbname as a connection string.
const oddName = `it's a "backup"; x=1 test ✓ db`;

let server: TestPostgres;
let loaded: LoadedConfig;
let pools: TargetPools;
let ledger: pg.Client;
let store: string;
let pagila: PgConnection;

beforeAll(async () => {
  server = await startPostgres();
  const database = async (prefix: string): Promise<PgConnection> => ({ ...server.connection, database: await server.createDatabase(prefix) });
  pagila = await database('pagila');
  await loadPagila(server.url(pagila.database));
  await installPggit(pagila);
  const ledgerDb = await database('ledger');
  await installPggit(ledgerDb);
  const big = await database('big');
  await withPgClient(big, (c) => c.query(`CREATE TABLE big AS SELECT g, md5(g::text) FROM generate_series(1, 2000000) g`));
  await withPgClient(server.connection, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(oddName)}`));
  const odd = { ...server.connection, database: oddName };
  await withPgClient(odd, (c) => c.query(`CREATE TABLE "tab le ✓" AS SELECT 1 AS id`));
  loaded = testConfig(
    { pagila, aged: pagila, ledger: ledgerDb, big, odd },
    { ledger: { target: 'ledger' }, backups: { dir: 'backups', retention: { daily: 2, weekly: 2, monthly: 2 } } },
  );
  // backups.dir is relative: the store sits beside the config file.
  store = path.join(loaded.baseDir, 'backups');
  pools = new TargetPools(loaded.config);
  ledger = new pg.Client(ledgerDb);
  await ledger.connect();
}, 300_000);

afterAll(async () => {
  await ledger?.end();
  await pools?.close();
  if (server) await withPgClient(server.connection, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(oddName)} WITH (FORCE)`));
  await server?.stop();
  if (loaded) rmSync(loaded.baseDir, { recursive: true, force: true });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

function context(abort = new AbortController(), config: Config = loaded.config, targetPools: TargetPools = pools) {
  return { config, baseDir: loaded.baseDir, pools: targetPools, heartbeat: vi.fn<(details?: unknown) => void>(), signal: abort.signal } satisfies BackupContext;
}

const newKey = () => `test/${randomBytes(4).toString('hex')}/backup`;
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
/** The store entries (partials included) that belong to a backup. */
const filesOf = (record: BackupRecord) =>
  readdirSync(path.join(store, record.target))
    .filter((name) => name.includes(record.backupId))
    .sort();
const manifestOf = (record: BackupRecord) => JSON.parse(readFileSync(path.join(store, record.target, `${record.backupId}.manifest.json`), 'utf8'));
const catalogRow = async (backupId: string) => (await ledger.query(`SELECT * FROM pggit_ops.backups WHERE backup_id = $1`, [backupId])).rows[0];
const tocOf = async (dump: string) => (await execa(pgBin('pg_restore'), ['--list', dump])).stdout;
const tocEntries = (toc: string) => toc.split('\n').filter((line) => /^\d+;/.test(line));

async function versions() {
  const { rows } = await ledger.query(`SELECT current_setting('server_version') AS v, current_setting('server_version_num')::int AS n`);
  const pgDump = (await execa(pgBin('pg_dump'), ['--version'])).stdout.replace(/^pg_dump \(PostgreSQL\) /, '');
  return { serverVersion: rows[0].v as string, serverVersionNum: rows[0].n as number, pgDumpVersion: pgDump };
}

describe('runBackup', () => {
  it('dumps the whole database in custom format: final file, manifest, catalog row', async () => {
    const input: BackupInput = { target: 'pagila', kind: 'full', idempotencyKey: newKey() };
    const record = await runBackup(context(), input);

    expect(record.backupId).toMatch(/^pagila-full-\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    expect(record).toMatchObject({
      idempotencyKey: input.idempotencyKey,
      target: 'pagila',
      kind: 'full',
      format: 'custom',
      path: `pagila/${record.backupId}.dump`,
      status: 'succeeded',
      verified: false,
      verifiedAt: null,
      error: null,
    });
    expect(filesOf(record)).toEqual([`${record.backupId}.dump`, `${record.backupId}.manifest.json`]);
    const file = path.join(store, record.path);
    const expectedVersions = await versions();
    const manifest = manifestOf(record);
    expect(manifest).toEqual({
      backupId: record.backupId,
      target: 'pagila',
      database: pagila.database,
      kind: 'full',
      format: 'custom',
      jobs: null,
      path: record.path,
      startedAt: record.startedAt,
      finishedAt: record.finishedAt,
      durationMs: record.durationMs,
      sha256: sha256(readFileSync(file)),
      sizeBytes: statSync(file).size,
      ...expectedVersions,
    });
    expect(manifest.durationMs).toBeGreaterThan(0);
    expect(record).toMatchObject({ sha256: manifest.sha256, sizeBytes: manifest.sizeBytes, serverVersion: expectedVersions.serverVersion, pgDumpVersion: expectedVersions.pgDumpVersion });

    const row = await catalogRow(record.backupId);
    expect(row).toMatchObject({ idempotency_key: input.idempotencyKey, target: 'pagila', status: 'succeeded', verified: false, manifest, sha256: manifest.sha256 });
    expect(row.finished_at.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());

    const toc = await tocOf(file);
    expect(toc).toContain('TABLE public film postgres');
    expect(toc).toContain('TABLE DATA public rental postgres');
    expect(toc).toContain('SCHEMA - pggit postgres');
  });

  it('dumps the pggit schema alone', async () => {
    const record = await runBackup(context(), { target: 'pagila', kind: 'pggit', idempotencyKey: newKey() });
    expect(record).toMatchObject({ kind: 'pggit', status: 'succeeded', path: `pagila/${record.backupId}.dump` });
    const entries = tocEntries(await tocOf(path.join(store, record.path)));
    expect(entries.length).toBeGreaterThan(20);
    // "<id>; <catalog> <oid> <type...> <schema> <name> <owner>": every object is in pggit (or is pggit).
    const outside = entries.filter((line) => !/ pggit /.test(line));
    expect(outside).toEqual([]);
    expect(entries.some((line) => line.includes(' public '))).toBe(false);
    // Event triggers belong to no schema, so pg_dump --schema leaves pggit's out: this backup keeps
    // pggit's history and code, and a restore of it needs `pggit-ops install` to track DDL again.
    expect(entries.some((line) => line.includes('EVENT TRIGGER'))).toBe(false);
  });

  it('dumps in directory format with 2 jobs, hashing each file and the listing in a stable order', async () => {
    const record = await runBackup(context(), { target: 'pagila', kind: 'full', format: 'directory', jobs: 2, idempotencyKey: newKey() });
    expect(record).toMatchObject({ format: 'directory', status: 'succeeded', path: `pagila/${record.backupId}.dir` });
    const dir = path.join(store, record.path);
    expect(statSync(dir).isDirectory()).toBe(true);
    const names = readdirSync(dir).sort(byteOrder);
    expect(names).toContain('toc.dat');
    expect(names.filter((n) => n.endsWith('.dat.gz')).length).toBeGreaterThan(10);
    const files = names.map((name) => {
      const bytes = readFileSync(path.join(dir, name));
      return { name, sizeBytes: bytes.length, sha256: sha256(bytes) };
    });
    const manifest = manifestOf(record);
    expect(manifest).toMatchObject({
      format: 'directory',
      jobs: 2,
      files,
      sizeBytes: files.reduce((sum, f) => sum + f.sizeBytes, 0),
      sha256: sha256(files.map((f) => `${f.sha256}  ${f.name}\n`).join('')),
    });
    // The recipe store.ts gives operators for checking a directory dump by hand.
    const { stdout } = await execa('sh', ['-c', 'LC_ALL=C ls | xargs sha256sum | sha256sum'], { cwd: dir });
    expect(stdout.split(' ')[0]).toBe(manifest.sha256);
    expect(tocEntries(await tocOf(dir)).length).toBeGreaterThan(100);
  });

  it('returns the recorded backup when retried with the same key, without dumping again', async () => {
    const input: BackupInput = { target: 'pagila', kind: 'pggit', idempotencyKey: newKey() };
    const first = await runBackup(context(), input);
    const dump = path.join(store, first.path);
    const mtime = statSync(dump).mtimeMs;

    const again = await runBackup(context(), input);

    expect(again).toEqual(first);
    expect(statSync(dump).mtimeMs).toBe(mtime);
    expect(filesOf(first)).toEqual([`${first.backupId}.dump`, `${first.backupId}.manifest.json`]);
    expect((await ledger.query(`SELECT count(*)::int AS n FROM pggit_ops.backups WHERE idempotency_key = $1`, [input.idempotencyKey])).rows[0].n).toBe(1);
    // A key names one backup: asking it for another is a bug in the caller, not a retry.
    await expect(runBackup(context(), { ...input, kind: 'full' })).rejects.toMatchObject({
      name: 'InvalidBackupInput',
      message: expect.stringContaining(`belongs to backup ${first.backupId}`),
    });
  });

  it("cleans a crashed attempt's leftovers and dumps again into its row", async () => {
    const key = newKey();
    const backupId = 'pagila-pggit-20260101T000000Z-dead';
    await ledger.query(
      `INSERT INTO pggit_ops.backups (backup_id, idempotency_key, target, kind, format, path, started_at)
       VALUES ($1, $2, 'pagila', 'pggit', 'custom', $3, '2026-01-01T00:00:00Z')`,
      [backupId, key, `pagila/${backupId}.dump`],
    );
    // What a worker killed mid-way leaves: a partial dump, a partial manifest, and (killed between
    // rename and catalog update) a final file nobody recorded.
    const dir = path.join(store, 'pagila');
    writeFileSync(path.join(dir, `.${backupId}.dump.0badcafe.partial`), 'half a dump');
    writeFileSync(path.join(dir, `.${backupId}.manifest.json.0badcafe.partial`), '{"half":');
    writeFileSync(path.join(dir, `${backupId}.dump`), 'an unrecorded dump');

    const redone = await runBackup(context(), { target: 'pagila', kind: 'pggit', idempotencyKey: key });

    expect(redone).toMatchObject({ backupId, status: 'succeeded', error: null });
    expect(redone.startedAt > '2026-01-01T00:00:00.000Z').toBe(true);
    expect(filesOf(redone)).toEqual([`${backupId}.dump`, `${backupId}.manifest.json`]);
    expect(sha256(readFileSync(path.join(dir, `${backupId}.dump`)))).toBe(redone.sha256);
    expect(manifestOf(redone).sha256).toBe(redone.sha256);
    expect((await ledger.query(`SELECT count(*)::int AS n FROM pggit_ops.backups WHERE idempotency_key = $1`, [key])).rows[0].n).toBe(1);
  });

  it('on cancellation kills pg_dump, removes the partial dump and records the attempt as cancelled; a retry redoes it', async () => {
    const abort = new AbortController();
    const ctx = context(abort);
    const input: BackupInput = { target: 'big', kind: 'full', idempotencyKey: newKey() };
    const firstHeartbeat = new Promise<unknown>((resolve) => ctx.heartbeat.mockImplementationOnce(resolve));
    const running = runBackup(ctx, input);

    expect(await firstHeartbeat).toMatchObject({ phase: 'dump', bytes: expect.any(Number), elapsedMs: expect.any(Number) });
    const dir = path.join(store, 'big');
    const partials = readdirSync(dir).filter((name) => name.endsWith('.partial'));
    expect(partials).toHaveLength(1);
    expect(statSync(path.join(dir, partials[0]!)).size).toBeGreaterThan(0);
    // The same key while that attempt lives: no second dump beside it.
    await expect(runBackup(context(), input)).rejects.toMatchObject({ name: 'BackupInProgress' });

    abort.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });

    expect(readdirSync(dir)).toEqual([]);
    const row = (await ledger.query(`SELECT * FROM pggit_ops.backups WHERE idempotency_key = $1`, [input.idempotencyKey])).rows[0];
    expect(row).toMatchObject({ status: 'failed', error: 'cancelled', verified: false });
    expect(row.finished_at).toBeInstanceOf(Date);
    // pg_dump is gone: its session ends with it.
    const sessions = () =>
      withPgClient(server.connection, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [PG_DUMP_APPLICATION_NAME])).rows[0].n);
    const deadline = Date.now() + 10_000;
    while ((await sessions()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await sessions()).toBe(0);

    const redone = await runBackup(context(), input);
    expect(redone).toMatchObject({ backupId: row.backup_id, status: 'succeeded', error: null });
    expect(filesOf(redone)).toEqual([`${redone.backupId}.dump`, `${redone.backupId}.manifest.json`]);
  });

  it('refuses a pg_dump older than the server with a non-retryable IncompatiblePgDump, recording the failure', async () => {
    const bin = mkdtempSync(path.join(tmpdir(), 'pggit-ops-fake-pg-dump-'));
    const fake = path.join(bin, 'pg_dump');
    writeFileSync(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 13.9"\n');
    chmodSync(fake, 0o755);
    vi.stubEnv('PGGIT_OPS_PG_DUMP', fake);
    const input: BackupInput = { target: 'pagila', kind: 'full', idempotencyKey: newKey() };
    try {
      await expect(runBackup(context(), input)).rejects.toMatchObject({
        name: 'IncompatiblePgDump',
        message: expect.stringMatching(
          new RegExp(`^pg_dump 13\\.9 \\(${fake}\\) is older than the server of target 'pagila' \\(PostgreSQL 15\\.\\d+.*Install the PostgreSQL 15 client tools`),
        ),
      });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
    const row = (await ledger.query(`SELECT * FROM pggit_ops.backups WHERE idempotency_key = $1`, [input.idempotencyKey])).rows[0];
    expect(row).toMatchObject({ status: 'failed', error: expect.stringContaining('pg_dump 13.9') });
    expect(readdirSync(path.join(store, 'pagila')).filter((name) => name.includes(row.backup_id))).toEqual([]);
  });

  it('backs up a database whose name has quotes, spaces and non-ASCII, ignoring the worker’s PG* variables', async () => {
    // Inherited by pg_dump, any of these would send it elsewhere or fail its login.
    vi.stubEnv('PGHOST', '203.0.113.1');
    vi.stubEnv('PGDATABASE', 'nowhere');
    vi.stubEnv('PGPASSWORD', 'wrong');
    vi.stubEnv('PGSERVICE', 'nosuchservice');
    const connection = libpqConnection(loaded.config, 'odd');
    expect(connection.dbname).not.toContain(server.connection.password);
    expect(connection.env.PGPASSWORD).toBe(server.connection.password);
    expect(Object.keys(connection.env).filter((name) => name.startsWith('PG'))).toEqual(['PGPASSWORD']);

    const record = await runBackup(context(), { target: 'odd', kind: 'full', idempotencyKey: newKey() });
    const toc = await tocOf(path.join(store, record.path));
    expect(toc).toContain(`;     dbname: ${oddName}`);
    expect(toc).toContain('TABLE public tab le ✓ postgres');
    expect(manifestOf(record).database).toBe(oddName);
  });

  it('takes a target given as a URL: the password leaves the URL for PGPASSWORD', async () => {
    const urlEnv = `PGGIT_OPS_TEST_BACKUP_URL_${randomBytes(4).toString('hex')}`;
    vi.stubEnv(urlEnv, `${server.url(pagila.database)}?sslmode=disable`);
    const config: Config = { ...loaded.config, targets: { ...loaded.config.targets, byurl: { url_env: urlEnv } } };
    const connection = libpqConnection(config, 'byurl');
    expect(connection.env.PGPASSWORD).toBe(server.connection.password);
    expect(connection.dbname).toBe(
      `postgresql://${server.connection.user}@${server.connection.host}:${server.connection.port}/${pagila.database}?sslmode=disable&application_name=pggit-ops+backup`,
    );

    const urlPools = new TargetPools(config);
    try {
      const record = await runBackup(context(new AbortController(), config, urlPools), { target: 'byurl', kind: 'pggit', idempotencyKey: newKey() });
      expect(record).toMatchObject({ target: 'byurl', status: 'succeeded' });
      expect(manifestOf(record).database).toBe(pagila.database);
    } finally {
      await urlPools.close();
    }
  });

  it('reaches a database named with quotes, ; and = through a URL target, from the worker and from pg_dump', async () => {
    const urlEnv = `PGGIT_OPS_TEST_BACKUP_URL_${randomBytes(4).toString('hex')}`;
    vi.stubEnv(urlEnv, server.url(oddName));
    const config: Config = { ...loaded.config, targets: { ...loaded.config.targets, oddurl: { url_env: urlEnv } } };
    const urlPools = new TargetPools(config);
    try {
      const record = await runBackup(context(new AbortController(), config, urlPools), { target: 'oddurl', kind: 'full', idempotencyKey: newKey() });
      expect(manifestOf(record).database).toBe(oddName);
      expect(await tocOf(path.join(store, record.path))).toContain('TABLE public tab le ✓ postgres');
    } finally {
      await urlPools.close();
    }
  });

  it('refuses jobs without directory format', async () => {
    await expect(runBackup(context(), { target: 'pagila', kind: 'full', jobs: 2, idempotencyKey: newKey() })).rejects.toMatchObject({ name: 'InvalidBackupInput' });
  });
});

describe('pg_dump versions', () => {
  it.each([
    ['pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)', '15.18 (Debian 15.18-0+deb12u1)', 150018],
    ['pg_dump (PostgreSQL) 16beta2', '16beta2', 160000],
    ['pg_dump (PostgreSQL) 13.9\n', '13.9', 130009],
    ['pg_dump (PostgreSQL) 9.6.24', '9.6.24', 90624],
  ])('reads %j', (output, version, num) => {
    expect(parsePgDumpVersion(output)).toEqual({ version, num });
  });

  it('refuses output that is not a pg_dump version', () => {
    expect(() => parsePgDumpVersion('psql (PostgreSQL) 15.8')).toThrow(/cannot read a pg_dump version/);
  });

  it.each([
    [150002, 150008, true],
    [160000, 150008, true],
    [150008, 160002, false],
    [90624, 100023, false],
    [100023, 90624, true],
  ])('pg_dump %i against server %i: compatible=%s', (pgDumpNum, serverNum, compatible) => {
    const check = () => assertPgDumpCompatible({ version: String(pgDumpNum), num: pgDumpNum, path: '/x/pg_dump' }, { version: String(serverNum), num: serverNum }, 't');
    if (compatible) expect(check).not.toThrow();
    else expect(check).toThrow(expect.objectContaining({ name: 'IncompatiblePgDump' }));
  });
});

describe('verifyBackup', () => {
  it('passes an intact backup and records it as verified', async () => {
    const record = await runBackup(context(), { target: 'pagila', kind: 'full', idempotencyKey: newKey() });
    const result = await verifyBackup(context(), { backupId: record.backupId });
    expect(result).toEqual({ backupId: record.backupId, ok: true, problems: [], tocEntries: tocEntries(await tocOf(path.join(store, record.path))).length });
    expect(result.tocEntries).toBeGreaterThan(100);
    const row = await catalogRow(record.backupId);
    expect(row).toMatchObject({ verified: true, status: 'succeeded' });
    expect(row.verified_at).toBeInstanceOf(Date);
  });

  it('finds a flipped byte in a custom dump: checksum mismatch, and pg_restore fails reading it', async () => {
    const record = await runBackup(context(), { target: 'pagila', kind: 'full', idempotencyKey: newKey() });
    await verifyBackup(context(), { backupId: record.backupId });
    const file = path.join(store, record.path);
    const bytes = readFileSync(file);
    const middle = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    writeFileSync(file, bytes);
    const corrupted = sha256(bytes);
    // Why verification reads the archive whole: the table of contents alone still looks fine.
    expect(tocEntries(await tocOf(file)).length).toBeGreaterThan(100);

    const result = await verifyBackup(context(), { backupId: record.backupId });

    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      `checksum mismatch: ${record.path} has sha256 ${corrupted}, its manifest records ${record.sha256}`,
      `checksum mismatch: ${record.path} has sha256 ${corrupted}, the catalog records ${record.sha256}`,
      expect.stringMatching(/^pg_restore could not read the whole archive: pg_restore: error: /),
    ]);
    expect(await catalogRow(record.backupId)).toMatchObject({ verified: false });
  });

  it('names the missing file of a directory dump', async () => {
    const record = await runBackup(context(), { target: 'pagila', kind: 'full', format: 'directory', idempotencyKey: newKey() });
    const dir = path.join(store, record.path);
    const victim = readdirSync(dir).find((name) => name.endsWith('.dat.gz'))!;
    rmSync(path.join(dir, victim));

    const result = await verifyBackup(context(), { backupId: record.backupId });

    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^checksum mismatch: .* its manifest records /),
        expect.stringMatching(/^size mismatch: /),
        `file ${victim} is missing`,
        // pg_restore names the file without its compression suffix.
        expect.stringMatching(new RegExp(`^pg_restore could not read the whole archive: .*/${victim.replace(/\.dat\.gz$/, '')}\\.dat": No such file`)),
      ]),
    );
  });

  it('refuses an unknown backup id', async () => {
    await expect(verifyBackup(context(), { backupId: 'no-such-backup' })).rejects.toMatchObject({ name: 'UnknownBackup' });
  });
});

describe('selectRetained', () => {
  const now = '2026-03-11T12:00:00Z'; // a Wednesday
  // Backups as "MM-DDTHH:MM[:SS]" in 2026 (UTC), "*" marking a verified one; the id is the time.
  const iso = (t: string) => `2026-${t.replace('*', '')}${t.replace('*', '').length === 11 ? ':00' : ''}Z`;
  const candidate = (t: string): RetentionCandidate => ({ backupId: iso(t), startedAt: iso(t), verified: t.endsWith('*') });
  const cases: Array<[string, [daily: number, weekly: number, monthly: number], string[], string[]]> = [
    ['nothing to decide', [1, 1, 1], [], []],
    ['the newest of each of the last 2 days, whatever the input order', [2, 0, 0], ['03-10T01:00', '03-11T09:00', '03-09T12:00', '03-11T10:00', '03-10T23:59'], ['03-11T10:00', '03-10T23:59']],
    ['days are calendar days, not 24-hour spans', [2, 0, 0], ['03-10T00:00:01', '03-09T23:59:59'], ['03-10T00:00:01']],
    ['weeks start on Monday', [0, 2, 0], ['03-09T00:00', '03-08T23:59', '03-07T12:00', '02-28T12:00'], ['03-09T00:00', '03-08T23:59']],
    ['months are UTC calendar months', [0, 0, 2], ['03-01T00:30', '02-28T23:30', '02-10T12:00', '01-31T12:00'], ['03-01T00:30', '02-28T23:30']],
    ['one backup may fill a day, a week and a month', [1, 1, 1], ['03-11T10:00', '03-02T00:00'], ['03-11T10:00']],
    ['the newest verified backup stays, even outside every window', [1, 0, 0], ['03-11T10:00', '01-15T00:00*', '01-10T00:00*'], ['03-11T10:00', '01-15T00:00']],
    ['with every count 0 only the newest verified backup stays', [0, 0, 0], ['03-11T10:00', '03-10T00:00*'], ['03-10T00:00']],
    ['backups from after now are kept', [1, 0, 0], ['03-12T08:00', '03-11T10:00', '03-11T09:00'], ['03-12T08:00', '03-11T10:00']],
  ];
  it.each(cases)('%s', (_name, [daily, weekly, monthly], backups, kept) => {
    const newestFirst = backups.map(iso).sort().reverse();
    expect(selectRetained(backups.map(candidate), { daily, weekly, monthly }, now)).toEqual({
      kept: kept.map(iso),
      deleted: newestFirst.filter((id) => !kept.map(iso).includes(id)),
    });
  });
});

describe('applyRetention', () => {
  it('deletes what the policy does not keep, per kind, never the newest verified backup, and is idempotent', async () => {
    // Config retention: 2 days, 2 weeks, 2 months. Now is Wednesday 2026-03-11.
    const now = '2026-03-11T12:00:00Z';
    const ages: Array<[string, string, boolean]> = [
      ['a', '2026-03-11T10:00:00Z', false], // today: kept (day)
      ['b', '2026-03-11T09:00:00Z', false], // today, older: deleted
      ['c', '2026-03-10T10:00:00Z', false], // yesterday: kept (day)
      ['d', '2026-03-09T10:00:00Z', false], // this week, older than a: deleted
      ['e', '2026-03-05T10:00:00Z', false], // last week: kept (week)
      ['f', '2026-02-20T10:00:00Z', false], // February: kept (month)
      ['g', '2026-01-15T10:00:00Z', true], // outside every window, but the newest verified: kept
      ['h', '2026-01-10T10:00:00Z', true], // an older verified one: deleted
    ];
    const ids: Record<string, string> = {};
    for (const [name, startedAt, verified] of ages) {
      const record = await runBackup(context(), { target: 'aged', kind: 'pggit', idempotencyKey: newKey() });
      await ledger.query(`UPDATE pggit_ops.backups SET started_at = $2, verified = $3 WHERE backup_id = $1`, [record.backupId, startedAt, verified]);
      ids[name] = record.backupId;
    }
    // The only full backup of the target: the pggit ones above must not push it out of March.
    const full = await runBackup(context(), { target: 'aged', kind: 'full', idempotencyKey: newKey() });
    await ledger.query(`UPDATE pggit_ops.backups SET started_at = '2026-03-01T10:00:00Z' WHERE backup_id = $1`, [full.backupId]);

    const ctx = context();
    const result = await applyRetention(ctx, { target: 'aged', now });

    const pick = (names: string) => [...names].map((n) => ids[n]!);
    expect(result).toEqual({ kept: [full.backupId, ...pick('acefg')], deleted: pick('bdh') });
    expect(ctx.heartbeat).toHaveBeenCalledTimes(3);
    const dir = path.join(store, 'aged');
    for (const id of pick('bdh')) {
      expect(readdirSync(dir).filter((name) => name.includes(id))).toEqual([]);
      expect(await catalogRow(id)).toMatchObject({ status: 'deleted' });
    }
    for (const id of [full.backupId, ...pick('acefg')]) {
      expect(readdirSync(dir).filter((name) => name.includes(id)).sort()).toEqual([`${id}.dump`, `${id}.manifest.json`]);
      expect(await catalogRow(id)).toMatchObject({ status: 'succeeded' });
    }

    expect(await applyRetention(context(), { target: 'aged', now })).toEqual({ kept: result.kept, deleted: [] });

    expect((await latestBackup(ledger, 'aged'))?.backupId).toBe(ids.a);
    expect((await latestBackup(ledger, 'aged', { verifiedOnly: true }))?.backupId).toBe(ids.g);
    expect((await latestBackup(ledger, 'aged', { kind: 'full' }))?.backupId).toBe(full.backupId);
    expect(await latestBackup(ledger, 'nobody')).toBeUndefined();
  });
});
