// The backup store: a local directory, one folder per target. Nothing appears there under its
// final name until it is complete and on disk: dumps and manifests are written to a hidden
// `.<name>.<token>.partial` first, fsynced, renamed, and the folder fsynced so the rename itself
// survives a power cut. The token is per attempt, so a pg_dump orphaned by a crashed worker
// keeps writing into its own partial, never into the one of the attempt that replaced it.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../../worker/config.ts';
import { PermanentError } from '../checks/define.ts';

export type BackupFormat = 'custom' | 'directory';

/** Absolute path of the store: config backups.dir, relative paths taken from the config file's folder. */
export function storeDir(config: Config, baseDir: string): string {
  return path.resolve(baseDir, config.backups.dir);
}

/** Where a backup's dump goes, relative to the store (the catalog's `path`). */
export function dumpRelativePath(target: string, backupId: string, format: BackupFormat): string {
  return `${target}/${backupId}${format === 'custom' ? '.dump' : '.dir'}`;
}

export interface BackupPaths {
  /** The dump: a file (custom format) or a folder (directory format). */
  dump: string;
  manifest: string;
}

export function backupPaths(store: string, backup: { backupId: string; path: string }): BackupPaths {
  const dump = path.resolve(store, backup.path);
  return { dump, manifest: path.join(path.dirname(dump), `${backup.backupId}.manifest.json`) };
}

export class BackupStoreUnwritable extends PermanentError {
  override name = 'BackupStoreUnwritable';
}

/**
 * Creates `dir` if needed and proves a file can be created, written and removed in it, before any
 * pg_dump starts: a read-only, full or misconfigured store is a person's problem, not a retry's.
 * Nothing already in the folder is touched.
 */
export async function assertWritable(dir: string): Promise<void> {
  const probe = path.join(dir, `.write-probe.${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, 'pggit-ops');
    await rm(probe);
  } catch (err) {
    throw new BackupStoreUnwritable(`backup store ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${(err as Error).message}); fix the folder or backups.dir, then run the backup again`);
  }
}

/** A new hidden partial name beside `final`, unique to this attempt. */
export function partialPath(final: string): string {
  return path.join(path.dirname(final), `.${path.basename(final)}.${randomBytes(4).toString('hex')}.partial`);
}

/** Removes a backup's dump, manifest and every partial of them, whichever attempt left it. Idempotent. */
export async function removeBackupFiles(paths: BackupPaths): Promise<void> {
  const dir = path.dirname(paths.dump);
  const prefixes = [paths.dump, paths.manifest].map((p) => `.${path.basename(p)}.`);
  const partials = (await readdir(dir).catch(ignoreMissing([] as string[]))).filter(
    (name) => name.endsWith('.partial') && prefixes.some((prefix) => name.startsWith(prefix)),
  );
  for (const p of [paths.dump, paths.manifest, ...partials.map((name) => path.join(dir, name))]) {
    await rm(p, { recursive: true, force: true });
  }
}

function ignoreMissing<T>(fallback: T): (err: NodeJS.ErrnoException) => T {
  return (err) => {
    if (err.code === 'ENOENT') return fallback;
    throw err;
  };
}

async function fsyncOne(p: string): Promise<void> {
  const handle = await open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a file, or a folder's files and the folder itself (pg_dump's directory format is flat). */
async function fsyncTree(p: string): Promise<void> {
  if ((await stat(p)).isDirectory()) {
    for (const name of await readdir(p)) await fsyncOne(path.join(p, name));
  }
  await fsyncOne(p);
}

/** Makes a complete partial visible under its final name, durably. */
export async function publish(partial: string, final: string): Promise<void> {
  await fsyncTree(partial);
  await rename(partial, final);
  await fsyncOne(path.dirname(final));
}

async function writeFileDurably(file: string, content: string): Promise<void> {
  const partial = partialPath(file);
  try {
    await writeFile(partial, content, { flag: 'wx' });
    await publish(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
}

/** Bytes written so far to a dump in progress (0 before pg_dump created it), for heartbeats. */
export async function sizeOf(p: string): Promise<number> {
  const st = await stat(p).catch(ignoreMissing(undefined));
  if (!st?.isDirectory()) return st?.size ?? 0;
  let total = 0;
  for (const name of await readdir(p).catch(ignoreMissing([] as string[]))) {
    total += (await stat(path.join(p, name)).catch(ignoreMissing(undefined)))?.size ?? 0;
  }
  return total;
}

const fileDigest = z.object({ name: z.string(), sizeBytes: z.number(), sha256: z.string() }).strict();
export type FileDigest = z.infer<typeof fileDigest>;

export interface Digest {
  sha256: string;
  sizeBytes: number;
  /** Directory format: each file, in the order the digest hashed them. */
  files?: FileDigest[];
}

async function hashFile(file: string, onBytes: (n: number) => void, signal?: AbortSignal): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(file, { signal, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    sizeBytes += chunk.length;
    onBytes(chunk.length);
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

/**
 * sha256 of a dump. For a folder it is the sha256 of its listing in `sha256sum` form
 * ("<sha256>  <name>\n" per file, names in byte order), so an operator can check it by hand:
 * `cd DIR && LC_ALL=C ls | xargs sha256sum | sha256sum`.
 */
export async function digestPath(p: string, onBytes: (n: number) => void = () => undefined, signal?: AbortSignal): Promise<Digest> {
  if (!(await stat(p)).isDirectory()) return hashFile(p, onBytes, signal);
  const names = (await readdir(p)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const files: FileDigest[] = [];
  for (const name of names) files.push({ name, ...(await hashFile(path.join(p, name), onBytes, signal)) });
  return {
    sha256: createHash('sha256')
      .update(files.map((f) => `${f.sha256}  ${f.name}\n`).join(''))
      .digest('hex'),
    sizeBytes: files.reduce((sum, f) => sum + f.sizeBytes, 0),
    files,
  };
}

const manifestSchema = z
  .object({
    backupId: z.string(),
    target: z.string(),
    database: z.string(),
    kind: z.enum(['full', 'pggit']),
    format: z.enum(['custom', 'directory']),
    jobs: z.number().int().nullable(),
    /** Relative to the store. */
    path: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    sizeBytes: z.number(),
    files: z.array(fileDigest).optional(),
    serverVersion: z.string(),
    serverVersionNum: z.number().int(),
    pgDumpVersion: z.string(),
  })
  .strict();
export type BackupManifest = z.infer<typeof manifestSchema>;

export function writeManifest(file: string, manifest: BackupManifest): Promise<void> {
  return writeFileDurably(file, `${JSON.stringify(manifest, null, 2)}\n`);
}

export async function readManifest(file: string): Promise<BackupManifest> {
  const result = manifestSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!result.success) throw new Error(`${file}: not a backup manifest: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
}
