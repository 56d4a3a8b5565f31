// Verification of a backup without a database: its bytes are the ones the dump wrote (sha256
// against the manifest and the catalog), and pg_restore can read it whole. `pg_restore --list`
// alone reads only the table of contents at the front of a custom archive, so a corrupted data
// block passes it; the second pass (`pg_restore --file=/dev/null`) decompresses every entry.
import { execa } from 'execa';
import { pgBin } from '../../worker/tools.ts';
import { findBackup, heartbeatEvery, type BackupContext, type BackupRecord } from './catalog.ts';
import { backupPaths, digestPath, readManifest, storeDir, type Digest, type FileDigest } from './store.ts';

export interface VerifyResult {
  backupId: string;
  ok: boolean;
  problems: string[];
  /** Entries in the archive's table of contents (0 when it cannot be read). */
  tocEntries: number;
}

export class UnknownBackup extends Error {
  override name = 'UnknownBackup';
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Files of a directory-format dump that differ from its manifest. */
function fileProblems(expected: FileDigest[], actual: FileDigest[]): string[] {
  const found = new Map(actual.map((f) => [f.name, f]));
  const problems: string[] = [];
  for (const want of expected) {
    const got = found.get(want.name);
    if (!got) problems.push(`file ${want.name} is missing`);
    else if (got.sha256 !== want.sha256) problems.push(`file ${want.name}: checksum mismatch (sha256 ${got.sha256}, manifest records ${want.sha256})`);
    found.delete(want.name);
  }
  for (const extra of found.keys()) problems.push(`file ${extra} is not in the manifest`);
  return problems;
}

async function checksumProblems(ctx: BackupContext, record: BackupRecord, dumpPath: string, manifestPath: string): Promise<string[]> {
  const problems: string[] = [];
  const manifest = await readManifest(manifestPath).catch((err: unknown) => {
    problems.push(`manifest unreadable: ${message(err)}`);
    return undefined;
  });
  let hashed = 0;
  const stop = heartbeatEvery(ctx, async () => ({ phase: 'checksum', backupId: record.backupId, bytes: hashed }));
  let digest: Digest;
  try {
    digest = await digestPath(dumpPath, (n) => (hashed += n), ctx.signal);
  } catch (err) {
    ctx.signal.throwIfAborted();
    return [...problems, `dump unreadable: ${message(err)}`];
  } finally {
    stop();
  }
  if (manifest) {
    if (digest.sha256 !== manifest.sha256) problems.push(`checksum mismatch: ${record.path} has sha256 ${digest.sha256}, its manifest records ${manifest.sha256}`);
    if (digest.sizeBytes !== manifest.sizeBytes) problems.push(`size mismatch: ${record.path} has ${digest.sizeBytes} bytes, its manifest records ${manifest.sizeBytes}`);
    if (manifest.files && digest.files) problems.push(...fileProblems(manifest.files, digest.files));
  }
  if (digest.sha256 !== record.sha256) problems.push(`checksum mismatch: ${record.path} has sha256 ${digest.sha256}, the catalog records ${record.sha256}`);
  return problems;
}

async function pgRestore(ctx: BackupContext, record: BackupRecord, args: string[]) {
  const stop = heartbeatEvery(ctx, async () => ({ phase: 'pg_restore', backupId: record.backupId, args: args.slice(0, -1) }));
  try {
    const result = await execa(pgBin('pg_restore'), args, { stdin: 'ignore', reject: false, cancelSignal: ctx.signal, forceKillAfterDelay: 5_000 });
    ctx.signal.throwIfAborted();
    return result;
  } finally {
    stop();
  }
}

/**
 * Verifies a backup of the catalog: checksum against manifest and catalog, table of contents and
 * a full read by pg_restore. Records the outcome in the catalog (`verified`, `verified_at`).
 */
export async function verifyBackup(ctx: BackupContext, input: { backupId: string }): Promise<VerifyResult> {
  const record = await ctx.pools.withLedger((db) => findBackup(db, input));
  if (!record) throw new UnknownBackup(`no backup '${input.backupId}' in the catalog`);
  const problems: string[] = [];
  let tocEntries = 0;
  if (record.status !== 'succeeded') {
    problems.push(`backup is ${record.status}, not succeeded: there is nothing to verify`);
  } else {
    const paths = backupPaths(storeDir(ctx.config, ctx.baseDir), record);
    problems.push(...(await checksumProblems(ctx, record, paths.dump, paths.manifest)));
    const list = await pgRestore(ctx, record, ['--list', paths.dump]);
    if (list.failed) problems.push(`pg_restore --list failed: ${list.stderr.trim()}`);
    else tocEntries = list.stdout.split('\n').filter((line) => /^\d+;/.test(line)).length;
    const read = await pgRestore(ctx, record, ['--file=/dev/null', paths.dump]);
    if (read.failed) problems.push(`pg_restore could not read the whole archive: ${read.stderr.trim()}`);
  }
  const ok = problems.length === 0;
  await ctx.pools.withLedger((db) => db.query(`UPDATE pggit_ops.backups SET verified = $2, verified_at = now() WHERE backup_id = $1`, [record.backupId, ok]));
  return { backupId: record.backupId, ok, problems, tocEntries };
}
