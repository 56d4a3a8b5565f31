// Applies the numbered plain-SQL files in sql/ to a database, once each, recording them in the
// ledger pggit_ops.schema_migrations. Our own small runner rather than a library: postgres-migrations
// fixes its ledger at public.migrations and wants files numbered from 0; node-pg-migrate keeps no
// checksums, so an edited applied file goes unnoticed, and gives up instead of waiting for the lock.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const defaultMigrationsDir = fileURLToPath(new URL('../sql', import.meta.url));

/**
 * Key of the session-level advisory lock held for a whole run, so concurrent installs serialise.
 * It is the ASCII bytes of "pggitops" read as a bigint; passed as text because it exceeds 2^53.
 */
export const MIGRATION_LOCK_KEY = '8099556157471813747';

const fileName = /^\d{3}_[a-z0-9_]+\.sql$/;

export class MigrationError extends Error {
  override name = 'MigrationError';
}

interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

function readMigrations(dir: string): Migration[] {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.sql$/i.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  const bad = names.filter((name) => !fileName.test(name));
  if (bad.length > 0) {
    throw new MigrationError(`${dir}: ${bad.join(', ')}: migration file names must look like NNN_name.sql (three digits, then lower-case letters, digits and _)`);
  }
  // Two files with one number have no defined order (typically two people picked the same next number).
  const byNumber = new Map<string, string[]>();
  for (const name of names) byNumber.set(name.slice(0, 3), [...(byNumber.get(name.slice(0, 3)) ?? []), name]);
  const clashes = [...byNumber.values()].filter((group) => group.length > 1);
  if (clashes.length > 0) {
    throw new MigrationError(`${dir}: migrations share a number: ${clashes.map((group) => group.join(' and ')).join('; ')}`);
  }
  return names.map((name) => {
    const bytes = readFileSync(path.join(dir, name));
    return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
  });
}

/** "line L, column C" of PostgreSQL's 1-based character position in `sql`. */
function lineAndColumn(sql: string, position: number): string {
  const before = Array.from(sql).slice(0, position - 1).join('');
  const lines = before.split('\n');
  return `line ${lines.length}, column ${Array.from(lines.at(-1)!).length + 1}`;
}

async function describeFailure(client: pg.Client, migration: Migration, err: unknown): Promise<string> {
  if (!(err instanceof pg.DatabaseError)) return `${migration.name}: ${err instanceof Error ? err.message : String(err)}`;
  const at = err.position ? ` at ${lineAndColumn(migration.sql, Number(err.position))}` : '';
  const parts = [`${migration.name}${at}: ${err.message}`];
  if (err.detail) parts.push(`detail: ${err.detail}`);
  if (err.hint) parts.push(`hint: ${err.hint}`);
  if (err.where) parts.push(`context: ${err.where}`);
  if (err.code === '42501' && /event trigger/i.test(err.message)) {
    const { rows } = await client.query<{ role: string }>('SELECT current_user AS role');
    parts.push(`pggit installs event triggers, which only a superuser can create: connect as a superuser (role ${rows[0]!.role} is not one)`);
  }
  return parts.join('\n  ');
}

/** Creates the ledger on first use only, so a later no-op run needs no CREATE privilege and fires no event trigger. */
async function readLedger(client: pg.Client): Promise<Array<{ name: string; checksum: string }>> {
  const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass('pggit_ops.schema_migrations') IS NOT NULL AS exists`);
  if (!rows[0]!.exists) {
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS pggit_ops;
      CREATE TABLE pggit_ops.schema_migrations (
        name        text PRIMARY KEY,
        checksum    text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now(),
        applied_by  name NOT NULL DEFAULT current_user,
        duration_ms integer NOT NULL
      )`);
  }
  return (await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM pggit_ops.schema_migrations ORDER BY name')).rows;
}

async function transactionId(client: pg.Client): Promise<string> {
  return (await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0]!.xid;
}

/** Runs one file and records it, atomically; returns how long it took. */
async function applyOne(client: pg.Client, migration: Migration): Promise<number> {
  const started = performance.now();
  await client.query('BEGIN');
  try {
    const xid = await transactionId(client);
    await client.query(migration.sql);
    // A COMMIT or ROLLBACK inside the file would leave the rest of it, and the ledger row, outside our transaction.
    if ((await transactionId(client)) !== xid) {
      throw new MigrationError(`${migration.name} ends the transaction it runs in (COMMIT or ROLLBACK in the file); what ran before that may be committed, and the file is not recorded as applied`);
    }
    const ms = Math.round(performance.now() - started);
    await client.query('INSERT INTO pggit_ops.schema_migrations (name, checksum, duration_ms) VALUES ($1, $2, $3)', [migration.name, migration.checksum, ms]);
    await client.query('COMMIT');
    return ms;
  } catch (err) {
    // A lost connection has no transaction left to roll back; the file's error is what matters.
    await client.query('ROLLBACK').catch(() => undefined);
    if (err instanceof MigrationError) throw err;
    throw new MigrationError(await describeFailure(client, migration, err), { cause: err });
  }
}

/**
 * Applies the files in `dir` (default: the repo's sql/) that the ledger does not list yet, in
 * numeric order, each in its own transaction with its ledger row. Refuses to apply anything when
 * the folder has a badly named file, or when an applied file was changed or deleted.
 */
export async function applyMigrations(
  client: pg.Client,
  options: { dir?: string; log?: (line: string) => void } = {},
): Promise<{ applied: string[]; alreadyApplied: string[] }> {
  const dir = options.dir ?? defaultMigrationsDir;
  const log = options.log ?? (() => {});
  const migrations = readMigrations(dir);

  const { rows: locked } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]);
  if (!locked[0]!.locked) {
    log(`waiting for another install to finish (advisory lock ${MIGRATION_LOCK_KEY})`);
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  }
  try {
    const ledger = await readLedger(client);
    const onDisk = new Map(migrations.map((m) => [m.name, m]));
    const problems: string[] = [];
    for (const row of ledger) {
      const file = onDisk.get(row.name);
      if (!file) problems.push(`${row.name} was applied but is missing from ${dir}`);
      else if (file.checksum !== row.checksum) {
        problems.push(`${row.name} changed after it was applied (applied sha256 ${row.checksum}, file now ${file.checksum}): add a new migration instead of editing an applied one`);
      }
    }
    if (problems.length > 0) throw new MigrationError(`nothing applied:\n  ${problems.join('\n  ')}`);

    const done = new Set(ledger.map((row) => row.name));
    const applied: string[] = [];
    for (const migration of migrations.filter((m) => !done.has(m.name))) {
      const ms = await applyOne(client, migration);
      applied.push(migration.name);
      log(`applied ${migration.name} (${ms} ms)`);
    }
    return { applied, alreadyApplied: migrations.filter((m) => done.has(m.name)).map((m) => m.name) };
  } finally {
    // A lost connection has released the lock with its session.
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
  }
}
