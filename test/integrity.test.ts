// pggit.verify_database_integrity() on Pagila: clean after install, and each injected fault reported.
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';

let server: TestPostgres;
let client: pg.Client;

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.stop());

beforeEach(async () => {
  const database = await server.createDatabase('integrity');
  await loadPagila(server.url(database), ['schema']);
  await installPggit({ ...server.connection, database });
  client = new pg.Client({ ...server.connection, database });
  await client.connect();
  return () => client.end();
});

async function problems() {
  const { rows } = await client.query(`SELECT check_name, status, object_name, details FROM pggit.verify_database_integrity() WHERE status <> 'OK' ORDER BY 1, 3`);
  return rows;
}

describe('verify_database_integrity', () => {
  it('passes on a clean database, every check reported OK', async () => {
    const { rows } = await client.query(`SELECT check_name, status FROM pggit.verify_database_integrity()`);
    expect(rows.map((r) => r.status)).toEqual(Array(7).fill('OK'));
    expect(rows.map((r) => r.check_name)).toEqual(['event triggers', 'settings', 'orphan history', 'missing dependency', 'missing object', 'definition drift', 'untracked object']);
    // The guide calls it in the select list; that form works too.
    expect((await client.query(`SELECT pggit.verify_database_integrity()`)).rowCount).toBe(7);
  });

  it('reports an orphan history row', async () => {
    await client.query(`INSERT INTO pggit.history (object_id, object_type, full_name, change_type, change_severity)
                        VALUES (987654, 'table', 'public.ghost', 'ALTER', 'MINOR')`);
    expect(await problems()).toEqual([
      { check_name: 'orphan history', status: 'FAIL', object_name: 'public.ghost', details: '1 history rows point to object id 987654, which does not exist' },
    ]);
  });

  it('reports a dependency on a missing object, as the guide\'s recovery query does', async () => {
    await client.query(`INSERT INTO pggit.dependencies (dependent_object, dependency_object, dependency_type)
                        VALUES ('public.film', 'public.no_such_thing', 'n')`);
    expect(await problems()).toEqual([
      { check_name: 'missing dependency', status: 'FAIL', object_name: 'public.film',
        details: 'MISSING DEPENDENCY: public.film depends on public.no_such_thing, which is not a live tracked object' },
    ]);
    // The guide's own query, verbatim, finds the same row.
    const guide = await client.query(`
      SELECT d.dependent_object, d.dependency_object,
             CASE WHEN o1.id IS NULL THEN 'MISSING DEPENDENT' WHEN o2.id IS NULL THEN 'MISSING DEPENDENCY' ELSE 'OK' END as status
        FROM pggit.dependencies d
        LEFT JOIN pggit.objects o1 ON d.dependent_object = o1.full_name
        LEFT JOIN pggit.objects o2 ON d.dependency_object = o2.full_name
       WHERE o1.id IS NULL OR o2.id IS NULL`);
    expect(guide.rows).toEqual([{ dependent_object: 'public.film', dependency_object: 'public.no_such_thing', status: 'MISSING DEPENDENCY' }]);
  });

  it('reports a stored definition that no longer matches the catalog', async () => {
    await client.query(`UPDATE pggit.objects SET definition = 'CREATE TABLE public.film (film_id integer);' WHERE full_name = 'public.film'`);
    expect(await problems()).toEqual([
      { check_name: 'definition drift', status: 'FAIL', object_name: 'public.film', details: 'stored definition of table public.film no longer matches the catalog' },
    ]);
  });

  it('reports DDL made while tracking was off: disabled trigger, drifted and untracked objects', async () => {
    await client.query(`ALTER EVENT TRIGGER pggit_ddl_command_end DISABLE`);
    await client.query(`ALTER TABLE public.actor ADD COLUMN nickname text`);
    await client.query(`ALTER EVENT TRIGGER pggit_sql_drop DISABLE`);
    await client.query(`DROP VIEW public.actor_info`);
    expect(await problems()).toEqual([
      { check_name: 'definition drift', status: 'FAIL', object_name: 'public.actor', details: 'stored definition of table public.actor no longer matches the catalog' },
      { check_name: 'event triggers', status: 'FAIL', object_name: 'pggit_ddl_command_end', details: 'event trigger disabled: DDL is not being tracked' },
      { check_name: 'event triggers', status: 'FAIL', object_name: 'pggit_sql_drop', details: 'event trigger disabled: DDL is not being tracked' },
      { check_name: 'missing object', status: 'FAIL', object_name: 'public.actor_info', details: 'view public.actor_info is tracked as live (version 1.0.0) but is not in the catalog' },
      { check_name: 'untracked object', status: 'WARN', object_name: 'public.actor.nickname', details: 'table column public.actor.nickname exists but is not tracked (changed while tracking was off?); pggit.baseline() records it' },
    ]);
  });
});

describe('definitions of dependents', () => {
  it('stay current when a column they print is renamed: views, indexes and foreign keys', async () => {
    await client.query(`ALTER TABLE public.film RENAME COLUMN title TO film_title`);
    await client.query(`ALTER TABLE public.actor RENAME COLUMN actor_id TO id`);
    expect(await problems()).toEqual([]);
    const view = await client.query(`SELECT definition FROM pggit.objects WHERE full_name = 'public.film_list'`);
    expect(view.rows[0].definition).toContain('film.film_title');
    const { rows } = await client.query(`SELECT change_type FROM pggit.history WHERE full_name = 'film_actor_actor_id_fkey on public.film_actor' ORDER BY id`);
    expect(rows.map((r) => r.change_type)).toEqual(['BASELINE', 'ALTER']); // its text names actor(id) now
  });
});

describe('resync_catalog_addresses', () => {
  it('re-binds objects whose OIDs changed (as after a restore) so renames are still recognised', async () => {
    // Simulate a restore: the stored addresses no longer point at the live objects.
    await client.query(`UPDATE pggit.objects SET objid = (objid::bigint + 1000000)::oid WHERE full_name IN ('public.actor', 'public.actor.first_name')`);
    expect((await client.query(`SELECT pggit.resync_catalog_addresses() AS n`)).rows[0].n).toBe(2);
    expect((await client.query(`SELECT pggit.resync_catalog_addresses() AS n`)).rows[0].n).toBe(0);
    await client.query(`ALTER TABLE public.actor RENAME COLUMN first_name TO given_name`);
    const { rows } = await client.query(`SELECT change_type, old_full_name FROM pggit.history WHERE full_name = 'public.actor.given_name'`);
    expect(rows).toEqual([{ change_type: 'RENAME', old_full_name: 'public.actor.first_name' }]);
  });
});
