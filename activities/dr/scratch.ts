// The scratch database a restore drill restores into: created empty on the drill server, dropped
// afterwards whatever happened, and recognisable by name (and by the birth date in its comment) when
// a crashed worker left one behind. Nothing here ever drops a database not named pggit_drill_*.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../../worker/config.ts';
import { withSession } from './pg-tools.ts';

const PREFIX = 'pggit_drill_';
const NAME = /^pggit_drill_[a-z0-9_]{1,51}$/;
/** Marks a scratch database's comment; created_at is the drill server's clock. */
const MARKER = 'pggit_ops_drill';

export interface ScratchDatabase {
  /** The configured target whose server hosts the scratch database. */
  target: string;
  database: string;
}

/**
 * `pggit_drill_<id>`: the id lower-cased with every other character made '_', its tail kept when
 * long, and 8 hex digits of its sha256 so that ids sanitised alike ('a/b', 'a-b') stay apart. The
 * same id gives the same name, so a retried activity finds its own database. At most 63 bytes.
 */
export function scratchName(id: string): string {
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  const room = 63 - PREFIX.length - hash.length - 1;
  const readable = id.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(-room).replace(/^_+|_+$/g, '');
  return `${PREFIX}${readable ? `${readable}_` : ''}${hash}`;
}

/** Throws unless `name` is a scratch database's: what restores overwrite and drops destroy. */
export function assertScratch(name: string): void {
  if (!NAME.test(name)) throw new Error(`refusing to use database '${name}' as a scratch database: its name is not pggit_drill_...`);
}

/** The target whose server hosts a drill of `source`: `backups.drill_target`, else the source itself. */
export function drillServer(config: Config, source: string): string {
  return config.backups.drill_target ?? source;
}

/**
 * Creates the empty scratch database for drill `id` of `source` on the drill server, from template0
 * (template1 may carry objects the backup would collide with) with the source database's encoding
 * and locale, so text sorts and converts as it did there. An existing one (an earlier attempt of
 * the same drill) is dropped first: a restore must start from nothing.
 */
export async function createScratch(config: Config, input: { id: string; source: string }): Promise<ScratchDatabase> {
  const scratch = { target: drillServer(config, input.source), database: scratchName(input.id) };
  const name = pg.escapeIdentifier(scratch.database);
  // On the source's own server (the default) one session does it all: a connection costs a few ms.
  await withSession(config, { target: scratch.target }, undefined, async (server) => {
    const options = scratch.target === input.source ? await creationOptions(server) : await withSession(config, { target: input.source }, undefined, creationOptions);
    await server.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await server.query(`CREATE DATABASE ${name} ${options.join(' ')}`);
    const { now } = (await server.query<{ now: Date }>('SELECT now()')).rows[0]!;
    const marker = { [MARKER]: { id: input.id, source: input.source, created_at: now.toISOString() } };
    await server.query(`COMMENT ON DATABASE ${name} IS ${pg.escapeLiteral(JSON.stringify(marker))}`);
  });
  return scratch;
}

/** CREATE DATABASE options giving a copy of the connected database its encoding and locale. */
async function creationOptions(source: pg.ClientBase): Promise<string[]> {
  // to_jsonb: the locale columns differ between major versions (daticulocale became datlocale in 17).
  const db = (await source.query<{ d: Record<string, string | null> }>(
    `SELECT to_jsonb(d) || jsonb_build_object('encoding_name', pg_encoding_to_char(d.encoding)) AS d FROM pg_database d WHERE d.datname = current_database()`,
  )).rows[0]!.d;
  const icuLocale = db.daticulocale ?? db.datlocale;
  return [
    'TEMPLATE template0',
    `ENCODING ${pg.escapeLiteral(db.encoding_name!)}`,
    `LC_COLLATE ${pg.escapeLiteral(db.datcollate!)}`,
    `LC_CTYPE ${pg.escapeLiteral(db.datctype!)}`,
    ...(db.datlocprovider === 'i' && icuLocale ? [`LOCALE_PROVIDER icu ICU_LOCALE ${pg.escapeLiteral(icuLocale)}`] : []),
  ];
}

/** Drops the scratch database, sessions and all; dropping one that is already gone is fine. */
export async function dropScratch(config: Config, scratch: ScratchDatabase): Promise<{ dropped: boolean }> {
  assertScratch(scratch.database);
  return withSession(config, { target: scratch.target }, undefined, async (c) => {
    const existed = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [scratch.database])).rowCount === 1;
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(scratch.database)} WITH (FORCE)`);
    return { dropped: existed };
  });
}

/**
 * Drops the scratch databases on `server` (a target name) born at least `olderThanMs` ago by the
 * server's clock, and those whose birth is unknown (a crash between CREATE and COMMENT; a retry of
 * createScratch recreates such a database). Younger ones belong to drills still running.
 */
export async function dropOrphanedScratch(config: Config, server: string, olderThanMs: number): Promise<{ dropped: string[]; kept: string[] }> {
  const { rows } = await withSession(config, { target: server }, undefined, (c) =>
    c.query<{ datname: string; comment: string | null; now: Date }>(
      `SELECT d.datname, shobj_description(d.oid, 'pg_database') AS comment, now() AS now
         FROM pg_database d
        WHERE d.datname LIKE 'pggit\\_drill\\_%'
        ORDER BY d.datname`,
    ),
  );
  const dropped: string[] = [];
  const kept: string[] = [];
  for (const row of rows) {
    if (!NAME.test(row.datname)) continue;
    const born = bornAt(row.comment);
    if (born !== undefined && row.now.getTime() - born.getTime() < olderThanMs) {
      kept.push(row.datname);
      continue;
    }
    await dropScratch(config, { target: server, database: row.datname });
    dropped.push(row.datname);
  }
  return { dropped, kept };
}

function bornAt(comment: string | null): Date | undefined {
  try {
    const created = (JSON.parse(comment ?? '') as Record<string, { created_at?: unknown }>)[MARKER]?.created_at;
    const date = typeof created === 'string' ? new Date(created) : undefined;
    return date && !Number.isNaN(date.getTime()) ? date : undefined;
  } catch {
    return undefined;
  }
}
