// A realistic migration history on Pagila with pggit, for the rollback tests: each migration is
// applied in turn and the point after it recorded with the schema dump and data checksums then.
// Built once per test file; cases copy the databases with CREATE DATABASE ... TEMPLATE.
import { execa } from 'execa';
import pg from 'pg';
import { pgBin } from '../../worker/tools.ts';
import { loadPagila } from './pagila.ts';
import { installPggit } from './pggit.ts';
import { withPgClient, type TestPostgres } from './postgres.ts';

export const migrations: Array<{ name: string; sql: string }> = [
  {
    name: 'add column with data',
    sql: `ALTER TABLE customer ADD COLUMN loyalty_points integer NOT NULL DEFAULT 0;
          UPDATE customer SET loyalty_points = customer_id % 50;`,
  },
  { name: 'add index', sql: 'CREATE INDEX customer_loyalty_idx ON customer (loyalty_points);' },
  {
    name: 'create view over the new column',
    sql: 'CREATE VIEW customer_loyalty AS SELECT customer_id, first_name, loyalty_points FROM customer WHERE loyalty_points > 10;',
  },
  { name: 'alter column type', sql: 'ALTER TABLE customer ALTER COLUMN email TYPE varchar(100);' },
  { name: 'drop column', sql: 'ALTER TABLE actor DROP COLUMN last_update;' },
  // Takes five views and a materialized view (with its index) along.
  { name: 'drop table', sql: 'DROP TABLE film_category CASCADE;' },
];

/** Tables no migration touches, and the columns of touched tables that survive every migration. */
export const untouchedTables = ['address', 'category', 'city', 'country', 'film', 'film_actor', 'inventory', 'language',
  'payment_p2022_01', 'payment_p2022_02', 'payment_p2022_03', 'payment_p2022_04', 'payment_p2022_05', 'payment_p2022_06',
  'payment_p2022_07', 'rental', 'staff', 'store'];
export const survivingColumns = {
  customer: ['customer_id', 'store_id', 'first_name', 'last_name', 'email', 'address_id', 'activebool', 'create_date', 'last_update', 'active'],
  actor: ['actor_id', 'first_name', 'last_name'],
};

export interface Point {
  /** The moment right after the migration committed (index 0: before the first one). */
  at: string;
  schema: string;
  checksums: Record<string, string>;
}

export interface Scenario {
  /** Pagila with pggit, before any migration. */
  base: string;
  /** After every migration. */
  migrated: string;
  /** points[i]: after the first i migrations. */
  points: Point[];
  /** film_category's rows before it was dropped. */
  droppedRows: string;
}

/** pg_dump --schema-only without pggit's own schemas (and without the per-dump \restrict key). */
export async function schemaDump(url: string): Promise<string> {
  const { stdout } = await execa(pgBin('pg_dump'), ['--schema-only', '-N', 'pggit', '-N', 'pggit_ops', '-d', url]);
  return stdout.replace(/^\\(un)?restrict .*$/gm, '');
}

/** md5 of a table's rows (or of some of its columns), in a stable order. */
export async function tableChecksum(client: pg.Client, table: string, columns?: string[]): Promise<string> {
  const row = columns ? `row(${columns.map((c) => pg.escapeIdentifier(c)).join(', ')})` : 't';
  const { rows } = await client.query(
    `SELECT md5(coalesce(string_agg(${row}::text, E'\\n' ORDER BY ${row}::text), '')) AS sum FROM ${pg.escapeIdentifier(table)} t`,
  );
  return rows[0].sum;
}

export async function checksums(client: pg.Client): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const table of untouchedTables) sums[table] = await tableChecksum(client, table);
  for (const [table, columns] of Object.entries(survivingColumns)) sums[`${table}(surviving columns)`] = await tableChecksum(client, table, columns);
  return sums;
}

export async function copyDatabase(server: TestPostgres, template: string, prefix: string): Promise<string> {
  const name = `${prefix}_${Math.random().toString(16).slice(2, 10)}`;
  await withPgClient(server.connection, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`));
  return name;
}

export async function dropDatabase(server: TestPostgres, name: string): Promise<void> {
  await withPgClient(server.connection, (c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}

/**
 * @param beforeMigrations runs on the database that is to be migrated, before the first migration
 * (e.g. to take a backup that holds the rows of a table a migration drops).
 */
export async function buildScenario(server: TestPostgres, beforeMigrations?: (database: string) => Promise<void>): Promise<Scenario> {
  const base = await server.createDatabase('pagila_pggit');
  await loadPagila(server.url(base));
  await installPggit({ ...server.connection, database: base });
  const migrated = await copyDatabase(server, base, 'migrated');
  await beforeMigrations?.(migrated);
  const client = new pg.Client({ ...server.connection, database: migrated });
  await client.connect();
  try {
    const droppedRows = await tableChecksum(client, 'film_category');
    const point = async (): Promise<Point> => ({
      at: (await client.query(`SELECT clock_timestamp()::text AS at`)).rows[0].at,
      schema: await schemaDump(server.url(migrated)),
      checksums: await checksums(client),
    });
    const points = [await point()];
    for (const migration of migrations) {
      await client.query(migration.sql);
      points.push(await point());
    }
    return { base, migrated, points, droppedRows };
  } finally {
    await client.end();
  }
}
