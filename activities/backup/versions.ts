// pg_dump can dump servers of its own major version and older, never newer ones: an old pg_dump
// against a new server fails midway or, worse, misses what it does not know. So the versions are
// compared before anything is dumped, and the refusal is an error the workflow does not retry
// (retrying cannot install another pg_dump).
import { stat } from 'node:fs/promises';
import { execa } from 'execa';
import type pg from 'pg';
import { pgBin } from '../../worker/tools.ts';
import { PermanentError } from '../checks/define.ts';

export class IncompatiblePgDump extends PermanentError {
  override name = 'IncompatiblePgDump';
}

/** A PostgreSQL version as its text and as a number in server_version_num form (15.8 = 150008). */
export interface PgVersion {
  version: string;
  num: number;
}

/**
 * The pg_dump to run: env PGGIT_OPS_PG_DUMP when set, else the one of the pinned PostgreSQL
 * binaries (PG_BINDIR). Only tests set PGGIT_OPS_PG_DUMP, to put a pg_dump of another version in
 * front of the check; operators choose their PostgreSQL with PG_BINDIR.
 */
export function pgDumpPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PGGIT_OPS_PG_DUMP || pgBin('pg_dump');
}

/** Reads `pg_dump --version` output: "pg_dump (PostgreSQL) 15.8 (Debian 15.8-1.pgdg120+1)", "... 16beta2", "... 9.6.24". */
export function parsePgDumpVersion(output: string): PgVersion {
  const m = /^pg_dump \(PostgreSQL\) ((\d+)(?:\.(\d+))?(?:\.(\d+))?\S*(?: .*)?)$/m.exec(output.trim());
  if (!m) throw new Error(`cannot read a pg_dump version from ${JSON.stringify(output.trim().slice(0, 200))}`);
  const [first, second, third] = [m[2], m[3], m[4]].map((part) => Number(part ?? 0)) as [number, number, number];
  // Before 10 the major version had two parts (9.6.24 = 90624); since 10 it has one (15.8 = 150008).
  const num = first >= 10 ? first * 10_000 + second : first * 10_000 + second * 100 + third;
  return { version: m[1]!, num };
}

/** The major version of a server_version_num, as PostgreSQL names it: "15", "9.6". */
export function majorVersion(num: number): string {
  return num >= 100_000 ? String(Math.floor(num / 10_000)) : `${Math.floor(num / 10_000)}.${Math.floor(num / 100) % 100}`;
}

/** Throws IncompatiblePgDump when pg_dump's major version is older than the server's. */
export function assertPgDumpCompatible(pgDump: PgVersion & { path: string }, server: PgVersion, target: string): void {
  const majorKey = (num: number) => (num >= 100_000 ? Math.floor(num / 10_000) * 100 : Math.floor(num / 100));
  if (majorKey(pgDump.num) >= majorKey(server.num)) return;
  const serverMajor = majorVersion(server.num);
  throw new IncompatiblePgDump(
    `pg_dump ${pgDump.version} (${pgDump.path}) is older than the server of target '${target}' (PostgreSQL ${server.version}): ` +
      `pg_dump cannot dump a server of a newer major version. Install the PostgreSQL ${serverMajor} client tools and point PG_BINDIR at them.`,
  );
}

/** Versions read, by binary: path, size and modification time (an upgrade in place is read again). */
const versionsRead = new Map<string, PgVersion & { path: string }>();

/**
 * pg_dump's version, read by running `pg_dump --version` once per binary for the life of the
 * process: starting it costs about 10 ms, a noticeable share of backing up a small database.
 */
export async function readPgDumpVersion(file: string = pgDumpPath()): Promise<PgVersion & { path: string }> {
  const { size, mtimeMs } = await stat(file);
  const key = `${file}\0${size}\0${mtimeMs}`;
  const known = versionsRead.get(key);
  if (known) return known;
  const { stdout } = await execa(file, ['--version'], { stdin: 'ignore' });
  const version = { ...parsePgDumpVersion(stdout), path: file };
  versionsRead.set(key, version);
  return version;
}

/** The connected server's version, and which database the connection is to. */
export async function readServerVersion(client: pg.ClientBase): Promise<PgVersion & { database: string }> {
  const { rows } = await client.query<{ version: string; num: string; database: string }>(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num, current_database() AS database`,
  );
  const row = rows[0]!;
  return { version: row.version, num: Number(row.num), database: row.database };
}
