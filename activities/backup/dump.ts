// The backup activity: pg_dump of a target (whole database, or the pggit schema alone) into the
// backup store, with its manifest and catalog row. Written for Temporal's at-least-once activities:
// the idempotency key (workflow run + activity) names one catalog row, so a retry after the dump
// finished returns that backup, and a retry after a crash cleans the crashed attempt's files and
// dumps again into the same row; an advisory lock on the key keeps a retry from racing an attempt
// that is still alive (a worker that lost its heartbeats but not its pg_dump).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { targets, type Config } from '../../worker/config.ts';
import { connectionConfig } from '../targets.ts';
import { findBackup, heartbeatEvery, recordColumns, toRecord, type BackupContext, type BackupKind, type BackupRecord, type CatalogRow } from './catalog.ts';
import { assertWritable, backupPaths, digestPath, dumpRelativePath, partialPath, publish, removeBackupFiles, sizeOf, storeDir, writeManifest, type BackupFormat, type BackupManifest } from './store.ts';
import { assertPgDumpCompatible, readPgDumpVersion, readServerVersion } from './versions.ts';
import { PermanentError } from '../checks/define.ts';

export interface BackupInput {
  target: string;
  kind: BackupKind;
  format?: BackupFormat;
  /** Parallel pg_dump workers; directory format only. */
  jobs?: number;
  /** Stable across retries of one activity: derived from the workflow run and activity id. */
  idempotencyKey: string;
}

/** A request that can never succeed as given; the workflow should not retry it. */
export class InvalidBackupInput extends PermanentError {
  override name = 'InvalidBackupInput';
}

/** Another attempt with the same idempotency key is still dumping; retry later. */
export class BackupInProgress extends Error {
  override name = 'BackupInProgress';
}

/** application_name of pg_dump's sessions, so they can be told apart in pg_stat_activity. */
export const PG_DUMP_APPLICATION_NAME = 'pggit-ops backup';

/** The worker's environment variables a libpq tool may see: everything else stays out (see libpqConnection). */
const inheritedEnv = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_MESSAGES', 'TZ', 'TMPDIR'];

/** A libpq conninfo value, quoted so spaces, quotes and backslashes in names stay data. */
function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * How a libpq program (pg_dump, pg_restore) reaches a target: a `--dbname` connection string
 * without the password, and an environment whose only secret is PGPASSWORD. Command lines are
 * visible to every user of the machine; the environment of a child is not. The worker's own
 * environment is not passed on: its PGHOST, PGDATABASE or PGSERVICE would silently redirect the
 * dump, and the other targets' secrets have no business in it.
 */
export function libpqConnection(config: Config, target: string, env: NodeJS.ProcessEnv = process.env): { dbname: string; env: Record<string, string> } {
  const resolved = connectionConfig(config, target, env);
  const childEnv: Record<string, string> = {};
  for (const name of inheritedEnv) if (env[name] !== undefined) childEnv[name] = env[name]!;
  let password: string | undefined;
  let dbname: string;
  if (resolved.url !== undefined) {
    const url = new URL(resolved.url);
    password = decodeURIComponent(url.password) || (url.searchParams.get('password') ?? undefined);
    url.password = '';
    url.searchParams.delete('password');
    if (!url.searchParams.has('application_name')) url.searchParams.set('application_name', PG_DUMP_APPLICATION_NAME);
    dbname = url.toString();
  } else {
    const sslmode = targets(config)[target]!.sslmode;
    const params: Record<string, string | undefined> = {
      host: resolved.host,
      port: String(resolved.port),
      user: resolved.user,
      dbname: resolved.database,
      // The worker's own connections (node-pg) use no TLS for prefer; the dump does the same.
      sslmode: sslmode === undefined || sslmode === 'prefer' ? 'disable' : sslmode,
      application_name: PG_DUMP_APPLICATION_NAME,
      connect_timeout: '10',
    };
    dbname = Object.entries(params)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, value]) => `${key}=${conninfoValue(value)}`)
      .join(' ');
    password = typeof resolved.password === 'string' ? resolved.password : undefined;
  }
  if (password) childEnv.PGPASSWORD = password;
  return { dbname, env: childEnv };
}

/** UTC time as in run ids: 20261124T080000Z. */
function stamp(time: Date): string {
  return time.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Holds a session advisory lock on the key for as long as the returned client stays connected. */
async function lockKey(config: Config, key: string): Promise<pg.Client> {
  const client = new pg.Client(connectionConfig(config, config.ledger.target));
  // A dropped connection must not crash the worker; it only ends the lock early.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`, [`pggit-ops backup ${key}`]);
    if (!rows[0]!.locked) throw new BackupInProgress(`another attempt of backup ${key} is still running`);
    return client;
  } catch (err) {
    await client.end();
    throw err;
  }
}

/** Claims the catalog row of this key: a new one, or the row of a crashed or failed attempt, reset. */
async function claimRow(ctx: BackupContext, input: BackupInput, format: BackupFormat, existing: BackupRecord | undefined): Promise<BackupRecord> {
  const startedAt = new Date();
  return ctx.pools.withLedger(async (db) => {
    if (existing) {
      const { rows } = await db.query<CatalogRow>(
        `UPDATE pggit_ops.backups SET status = 'running', started_at = $2, finished_at = NULL, error = NULL
          WHERE backup_id = $1 RETURNING ${recordColumns}`,
        [existing.backupId, startedAt],
      );
      return toRecord(rows[0]!);
    }
    const suffix = createHash('sha256').update(input.idempotencyKey).digest('hex').slice(0, 4);
    const backupId = `${input.target}-${input.kind}-${stamp(startedAt)}-${suffix}`;
    const { rows } = await db.query<CatalogRow>(
      `INSERT INTO pggit_ops.backups (backup_id, idempotency_key, target, kind, format, path, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${recordColumns}`,
      [backupId, input.idempotencyKey, input.target, input.kind, format, dumpRelativePath(input.target, backupId, format), startedAt],
    );
    return toRecord(rows[0]!);
  });
}

/**
 * Backs up a target: `pg_dump` of the whole database or of the pggit schema, custom format (or
 * directory format, with `jobs` parallel workers), into the store under
 * `<target>/<backup_id>.dump|.dir` with `<backup_id>.manifest.json` beside it, recorded in the
 * catalog. Cancelling `ctx.signal` kills pg_dump, removes its files, records the row as failed
 * ('cancelled') and throws the signal's reason.
 */
export async function runBackup(ctx: BackupContext, input: BackupInput): Promise<BackupRecord> {
  const format = input.format ?? 'custom';
  if (input.jobs !== undefined && !(format === 'directory' && Number.isInteger(input.jobs) && input.jobs >= 1)) {
    throw new InvalidBackupInput(`jobs=${input.jobs}: parallel dumps need format 'directory' and a whole number of jobs from 1`);
  }
  const lock = await lockKey(ctx.config, input.idempotencyKey);
  try {
    const existing = await ctx.pools.withLedger((db) => findBackup(db, { idempotencyKey: input.idempotencyKey }));
    if (existing && (existing.target !== input.target || existing.kind !== input.kind || existing.format !== format)) {
      throw new InvalidBackupInput(
        `idempotency key ${input.idempotencyKey} belongs to backup ${existing.backupId} (${existing.target}, ${existing.kind}, ${existing.format}), not to a ${input.kind} ${format} backup of ${input.target}`,
      );
    }
    // Succeeded (or deleted by retention since): that attempt finished, and a retry must not add a second backup.
    if (existing && existing.status !== 'running' && existing.status !== 'failed') return existing;
    return await dump(ctx, await claimRow(ctx, input, format, existing), input.jobs);
  } finally {
    // The lock ends with the session, even when this goodbye cannot reach the server.
    await lock.end().catch(() => undefined);
  }
}

async function dump(ctx: BackupContext, record: BackupRecord, jobs: number | undefined): Promise<BackupRecord> {
  const paths = backupPaths(storeDir(ctx.config, ctx.baseDir), record);
  await assertWritable(path.dirname(paths.dump));
  // Whatever an earlier attempt with this key left, finished or not, is not a backup anyone recorded.
  await removeBackupFiles(paths);
  const partial = partialPath(paths.dump);
  try {
    ctx.signal.throwIfAborted();
    const pgDump = await readPgDumpVersion();
    const server = await ctx.pools.withClient(record.target, readServerVersion);
    assertPgDumpCompatible(pgDump, server, record.target);

    const connection = libpqConnection(ctx.config, record.target);
    const args = [
      `--format=${record.format}`,
      `--file=${partial}`,
      '--no-password',
      ...(jobs === undefined ? [] : [`--jobs=${jobs}`]),
      // --strict-names: a pggit backup of a database without pggit fails instead of dumping nothing.
      ...(record.kind === 'pggit' ? ['--schema=pggit', '--strict-names'] : []),
      `--dbname=${connection.dbname}`,
    ];
    const started = performance.now();
    const stopHeartbeats = heartbeatEvery(ctx, async () => ({ phase: 'dump', backupId: record.backupId, bytes: await sizeOf(partial) }));
    let result;
    try {
      result = await execa(pgDump.path, args, {
        env: connection.env,
        extendEnv: false,
        stdin: 'ignore',
        reject: false,
        cancelSignal: ctx.signal,
        forceKillAfterDelay: 5_000,
      });
    } finally {
      stopHeartbeats();
    }
    ctx.signal.throwIfAborted();
    if (result.failed) {
      const how = result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
      throw new Error(`pg_dump of target '${record.target}' failed (${how}): ${result.stderr.trim()}`);
    }
    const durationMs = Math.round(performance.now() - started);

    let hashed = 0;
    const stopChecksumHeartbeats = heartbeatEvery(ctx, async () => ({ phase: 'checksum', backupId: record.backupId, bytes: hashed }));
    let digest;
    try {
      digest = await digestPath(partial, (n) => (hashed += n), ctx.signal);
    } finally {
      stopChecksumHeartbeats();
    }
    await publish(partial, paths.dump);
    const finishedAt = new Date();
    const manifest: BackupManifest = {
      backupId: record.backupId,
      target: record.target,
      database: server.database,
      kind: record.kind,
      format: record.format,
      jobs: jobs ?? null,
      path: record.path,
      startedAt: record.startedAt,
      finishedAt: finishedAt.toISOString(),
      durationMs,
      sha256: digest.sha256,
      sizeBytes: digest.sizeBytes,
      ...(digest.files && { files: digest.files }),
      serverVersion: server.version,
      serverVersionNum: server.num,
      pgDumpVersion: pgDump.version,
    };
    await writeManifest(paths.manifest, manifest);
    return await ctx.pools.withLedger(async (db) => {
      const { rows } = await db.query<CatalogRow>(
        `UPDATE pggit_ops.backups
            SET status = 'succeeded', finished_at = $2, sha256 = $3, size_bytes = $4, duration_ms = $5,
                server_version = $6, pg_dump_version = $7, manifest = $8, error = NULL
          WHERE backup_id = $1 RETURNING ${recordColumns}`,
        [record.backupId, finishedAt, digest.sha256, digest.sizeBytes, durationMs, server.version, pgDump.version, JSON.stringify(manifest)],
      );
      return toRecord(rows[0]!);
    });
  } catch (err) {
    await removeBackupFiles(paths);
    const cancelled = ctx.signal.aborted;
    await ctx.pools
      .withLedger((db) =>
        db.query(`UPDATE pggit_ops.backups SET status = 'failed', finished_at = now(), error = $2 WHERE backup_id = $1`, [
          record.backupId,
          cancelled ? 'cancelled' : err instanceof Error ? err.message : String(err),
        ]),
      )
      // Unrecorded, the row stays 'running' and the next attempt with this key redoes it anyway.
      .catch(() => undefined);
    if (cancelled) throw ctx.signal.reason;
    throw err;
  }
}
