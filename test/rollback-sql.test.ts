// The rollback SQL layer (sql/008) on Pagila with pggit: a realistic migration history rolled back
// to each of its points with pggit.rollback_to_timestamp (schema dump equal to the one taken then,
// data of untouched tables and surviving columns unchanged, a second preview empty), the preview's
// plan and risks, blocking dependents, renames and comments, failures that leave nothing behind,
// the object rollback, and inputs refused with the input named.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { buildScenario, checksums, copyDatabase, dropDatabase, migrations, schemaDump, tableChecksum, type Scenario } from './support/rollback-scenario.ts';
import type { PlanStep } from '../activities/rollback/plan.ts';

let server: TestPostgres;
let scenario: Scenario;

beforeAll(async () => {
  server = await startPostgres();
  scenario = await buildScenario(server);
}, 300_000);
afterAll(() => server?.stop());

/** Runs `fn` on a fresh copy of `template`, dropped afterwards. */
async function onCopy<T>(template: string, fn: (client: pg.Client, database: string) => Promise<T>): Promise<T> {
  const database = await copyDatabase(server, template, 'rb');
  const client = new pg.Client({ ...server.connection, database });
  await client.connect();
  try {
    return await fn(client, database);
  } finally {
    await client.end();
    await dropDatabase(server, database);
  }
}

async function preview(client: pg.Client, at: string): Promise<PlanStep[]> {
  return (await client.query<PlanStep>(`SELECT * FROM pggit.preview_rollback($1) ORDER BY step`, [at])).rows;
}

function stepOf(plan: PlanStep[], objectName: string, action?: string): PlanStep {
  const row = plan.find((r) => r.object_name === objectName && (!action || r.action === action));
  if (!row) throw new Error(`no ${action ?? ''} step for ${objectName} in the plan:\n${plan.map((r) => `${r.step} ${r.action} ${r.object_name}`).join('\n')}`);
  return row;
}

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('rollback_to_timestamp on a migration history', () => {
  it.each(migrations.map((m, i) => [i, m.name] as const))(
    'back to point %i (before "%s"): schema as dumped then, data kept, nothing left to do',
    async (i) => {
      const point = scenario.points[i]!;
      await onCopy(scenario.migrated, async (client, database) => {
        const result = (await client.query(`SELECT pggit.rollback_to_timestamp($1, allow_data_loss => true) AS r`, [point.at])).rows[0].r;
        expect(result.statements).toBeGreaterThan(0);
        expect(await schemaDump(server.url(database))).toBe(point.schema);
        // a schema rollback keeps the data as it was when it started (migration 1's UPDATE stays)
        expect(await checksums(client)).toEqual(scenario.points.at(-1)!.checksums);
        expect(await preview(client, point.at)).toEqual([]);
        expect((await client.query(`SELECT * FROM pggit.verify_rollback($1)`, [point.at])).rows).toEqual([]);
        expect((await client.query(`SELECT count(*)::int AS n FROM pggit.tracking_errors`)).rows[0].n).toBe(0);
        // The SQL path re-creates a dropped table empty, and says so; its rows are the workflow's job.
        if (i < migrations.length) {
          expect(result.recreated_without_data).toEqual(['public.film_category']);
          expect(await tableChecksum(client, 'film_category')).not.toBe(scenario.droppedRows);
        }
      });
    },
  );

  it('has nothing to do at the last point', async () => {
    await onCopy(scenario.migrated, async (client) => {
      expect(await preview(client, scenario.points.at(-1)!.at)).toEqual([]);
    });
  });
});

describe('preview_rollback', () => {
  it('orders the plan by dependency layer, names locks and risks, and changes nothing', async () => {
    await onCopy(scenario.migrated, async (client, database) => {
      const before = await schemaDump(server.url(database));
      const plan = await preview(client, scenario.points[0]!.at);
      expect(await schemaDump(server.url(database))).toBe(before);

      expect(plan.map((r) => r.step)).toEqual(plan.map((_, i) => i + 1));
      const stages = plan.map((r) => r.stage);
      expect(stages).toEqual([...stages].sort((a, b) => a - b));
      expect(new Set(stages)).toEqual(new Set(Array.from({ length: Math.max(...stages) }, (_, i) => i + 1)));

      const view = stepOf(plan, 'public.customer_loyalty', 'drop');
      const index = stepOf(plan, 'public.customer_loyalty_idx', 'drop');
      const column = stepOf(plan, 'public.customer.loyalty_points', 'drop');
      const email = stepOf(plan, 'public.customer.email', 'alter type');
      const table = stepOf(plan, 'public.film_category', 'create');
      const fk = stepOf(plan, 'film_category_film_id_fkey on public.film_category', 'create');
      const lastUpdate = stepOf(plan, 'public.actor.last_update', 'create');
      const matview = stepOf(plan, 'public.rental_by_category', 'create');
      const matviewIndex = stepOf(plan, 'public.rental_category', 'create');

      // the view over the new column leaves before the column; data is lost only in the last stage
      expect(view.stage).toBeLessThan(column.stage);
      expect(index.stage).toBeLessThan(column.stage);
      expect(column.stage).toBe(Math.max(...stages));
      expect(column).toMatchObject({ loses_data: true, sql: 'ALTER TABLE public.customer DROP COLUMN IF EXISTS loyalty_points;',
                                     locks: 'ACCESS EXCLUSIVE on public.customer' });
      expect(plan.filter((r) => r.loses_data).map((r) => r.object_name)).toEqual(['public.customer.loyalty_points']);
      // column-level inverses, not a re-created table
      expect(email.sql).toBe('ALTER TABLE public.customer ALTER COLUMN email TYPE text USING email::text;');
      expect(lastUpdate.sql).toBe('ALTER TABLE public.actor ADD COLUMN last_update timestamp with time zone DEFAULT now() NOT NULL;');
      expect(plan.some((r) => r.object_name === 'public.customer' || r.object_name === 'public.actor')).toBe(false);
      // the dropped table comes back without its foreign keys, which follow once it exists; its
      // primary key is part of it, so its index is not created a second time
      expect(table).toMatchObject({ needs_backup_data: true, loses_data: false });
      expect(table.note).toMatch(/comes back empty; its rows are only in a backup taken before then/);
      expect(table.sql).toContain('CONSTRAINT film_category_pkey PRIMARY KEY (film_id, category_id)');
      expect(table.sql).not.toContain('FOREIGN KEY');
      expect(fk.stage).toBeGreaterThan(table.stage);
      expect(plan.some((r) => r.object_name === 'public.film_category_pkey')).toBe(false);
      // what the drop took along comes back after the table, the matview before its index
      expect(matview.stage).toBeGreaterThan(table.stage);
      expect(matviewIndex.step).toBeGreaterThan(matview.step);
      expect(stepOf(plan, 'public.actor_info', 'create').stage).toBeGreaterThan(table.stage);
      expect(stepOf(plan, 'last_updated on public.film_category', 'create').stage).toBeGreaterThan(table.stage);
    });
  });

  it('drops and re-creates views that block a change without having changed, dependents first', async () => {
    await onCopy(scenario.base, async (client, database) => {
      const point = (await client.query(`SELECT clock_timestamp()::text AS at`)).rows[0].at;
      const schema = await schemaDump(server.url(database));
      // The views are dropped and re-created as they were, so only the column's change is recorded
      // against them: rolling the type back must move them out of the way.
      await client.query(`
        CREATE TEMP TABLE saved AS SELECT pg_get_viewdef('staff_list'::regclass) AS s, pg_get_viewdef('customer_list'::regclass) AS c;
        DROP VIEW staff_list, customer_list;
        ALTER TABLE address ALTER COLUMN phone TYPE varchar(40);
        DO $$ BEGIN
          EXECUTE 'CREATE VIEW staff_list AS ' || (SELECT s FROM saved);
          EXECUTE 'CREATE VIEW customer_list AS ' || (SELECT c FROM saved);
        END $$;
        DROP TABLE saved;`);
      await client.query(`CREATE VIEW staff_phones AS SELECT id, phone FROM staff_list`);
      const plan = await preview(client, point);
      const retype = stepOf(plan, 'public.address.phone', 'alter type');
      expect(retype.touches).toEqual(['public.customer_list', 'public.staff_list']);
      const dropStaff = stepOf(plan, 'public.staff_list', 'drop to recreate');
      expect(dropStaff.note).toBe('in the way of public.address.phone: dropped and re-created as it is now');
      expect(stepOf(plan, 'public.staff_phones', 'drop').step).toBeLessThan(dropStaff.step);
      expect(dropStaff.stage).toBeLessThan(retype.stage);
      expect(stepOf(plan, 'public.staff_list', 'recreate').stage).toBeGreaterThan(retype.stage);

      await client.query(`SELECT pggit.rollback_to_timestamp($1)`, [point]);
      expect(await schemaDump(server.url(database))).toBe(schema);
      expect(await preview(client, point)).toEqual([]);
    });
  });

  it('renames a column back, restores comments, defaults, functions and sequences, and removes a new schema', async () => {
    await onCopy(scenario.base, async (client, database) => {
      const point = (await client.query(`SELECT clock_timestamp()::text AS at`)).rows[0].at;
      const schema = await schemaDump(server.url(database));
      const films = await tableChecksum(client, 'film');
      await client.query(`
        ALTER TABLE film RENAME COLUMN length TO duration;
        COMMENT ON TABLE actor IS 'actors';
        COMMENT ON COLUMN actor.first_name IS 'given name';
        CREATE OR REPLACE FUNCTION last_day(timestamp with time zone) RETURNS date LANGUAGE sql IMMUTABLE STRICT
          AS $$ SELECT (date_trunc('month', $1) + interval '1 month - 1 day')::date $$;
        ALTER TABLE staff ALTER COLUMN active DROP DEFAULT;
        ALTER TABLE staff ALTER COLUMN password SET NOT NULL;
        ALTER SEQUENCE actor_actor_id_seq CACHE 10;
        ALTER DOMAIN year ADD CONSTRAINT year_recent CHECK (VALUE > 1950);
        ALTER TABLE language ADD CONSTRAINT language_name_key UNIQUE (name);
        DROP TRIGGER last_updated ON city;
        CREATE INDEX payment_amount_idx ON payment (amount);
        CREATE SCHEMA "Loyalty";
        CREATE TYPE "Loyalty".tier AS ENUM ('bronze', 'silver');
        CREATE TABLE "Loyalty"."Program" (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
        CREATE TABLE "Loyalty".member (customer_id int PRIMARY KEY REFERENCES customer,
                                       program_id int REFERENCES "Loyalty"."Program", tier "Loyalty".tier DEFAULT 'bronze');`);
      const plan = await preview(client, point);
      expect(stepOf(plan, 'public.film.duration', 'rename').sql).toBe('ALTER TABLE public.film RENAME COLUMN duration TO length;');
      expect(stepOf(plan, 'public.actor', 'comment').sql).toBe('COMMENT ON TABLE public.actor IS NULL;');
      expect(stepOf(plan, '"Loyalty"', 'drop').stage).toBe(Math.max(...plan.map((r) => r.stage)));

      await client.query(`SELECT pggit.rollback_to_timestamp($1, allow_data_loss => true)`, [point]);
      expect(await schemaDump(server.url(database))).toBe(schema);
      expect(await tableChecksum(client, 'film')).toBe(films);
      expect(await preview(client, point)).toEqual([]);
    });
  });
});

describe('rollback_to_timestamp failures', () => {
  it('refuses to lose data unless allowed, and changes nothing', async () => {
    await onCopy(scenario.migrated, async (client, database) => {
      const message = await errorOf(client.query(`SELECT pggit.rollback_to_timestamp($1)`, [scenario.points[0]!.at]));
      expect(message).toMatch(/^rollback_to_timestamp: nothing done: the rollback would drop public\.customer\.loyalty_points with their data/);
      expect(await schemaDump(server.url(database))).toBe(scenario.points.at(-1)!.schema);
    });
  });

  it('gives up on a lock it cannot get within lock_timeout, naming the step, and leaves nothing behind', async () => {
    await onCopy(scenario.migrated, async (client, database) => {
      const blocker = new pg.Client({ ...server.connection, database });
      await blocker.connect();
      try {
        await blocker.query(`BEGIN; LOCK TABLE customer IN ACCESS SHARE MODE`);
        const message = await errorOf(client.query(`SELECT pggit.rollback_to_timestamp($1, '200ms', true)`, [scenario.points[0]!.at]));
        expect(message).toMatch(/^rollback_to_timestamp: nothing done: step \d+ \(stage \d+, drop public\.customer_loyalty_idx\) failed: canceling statement due to lock timeout$/);
      } finally {
        await blocker.end();
      }
      expect(await schemaDump(server.url(database))).toBe(scenario.points.at(-1)!.schema);
      expect(await checksums(client)).toEqual(scenario.points.at(-1)!.checksums);
    });
  });

  it('names the bad input', async () => {
    await onCopy(scenario.migrated, async (client) => {
      expect(await errorOf(client.query(`SELECT * FROM pggit.preview_rollback(now() + interval '1 day')`)))
        .toMatch(/^rollback: the target point .* is in the future$/);
      expect(await errorOf(client.query(`SELECT * FROM pggit.preview_rollback('2001-02-03')`)))
        .toMatch(/^rollback: the target point 2001-02-03 00:00:00\+00 is before the oldest change pggit has kept \(.*\), so the state then is unknown$/);
      expect(await errorOf(client.query(`SELECT * FROM pggit.preview_rollback('last tuesday')`)))
        .toBe('invalid input syntax for type timestamp with time zone: "last tuesday"');
      expect(await errorOf(client.query(`SELECT pggit.rollback_to_timestamp($1, 'soon', true)`, [scenario.points[0]!.at])))
        .toBe(`rollback_to_timestamp: lock_timeout 'soon' is not a valid duration (e.g. '5s', '500ms')`);
      expect(await errorOf(client.query(`SELECT * FROM pggit.preview_rollback_object('public.no_such_table', '1.0.0')`)))
        .toBe('rollback_object: unknown object public.no_such_table: pggit has never recorded it');
      expect(await errorOf(client.query(`SELECT * FROM pggit.preview_rollback_object('customer', '7.0.0')`)))
        .toMatch(/^rollback_object: version 7\.0\.0 of public\.customer was never recorded \(recorded versions: 1\.0\.0, .*\)$/);
    });
  });

  it('refuses a point whose history was cleaned up', async () => {
    await onCopy(scenario.migrated, async (client) => {
      // what retention would do to the baseline and first migration of public.customer
      await client.query(`DELETE FROM pggit.history WHERE full_name = 'public.customer' AND change_timestamp <= $1`, [scenario.points[1]!.at]);
      expect(await errorOf(client.query(`SELECT * FROM pggit.preview_rollback($1)`, [scenario.points[0]!.at])))
        .toMatch(/^rollback: the history of table public\.customer before .* has been cleaned up \(its oldest kept change is at .*\), so its state then is unknown$/);
    });
  });
});

describe('rollback_object', () => {
  it('takes one table and its parts back to a version, dropping what depended on its removed column, and nothing else', async () => {
    await onCopy(scenario.migrated, async (client) => {
      const plan = (await client.query<PlanStep>(`SELECT * FROM pggit.preview_rollback_object('public.customer', '1.0.0') ORDER BY step`)).rows;
      expect(plan.map((r) => [r.action, r.object_name])).toEqual([
        ['drop', 'public.customer_loyalty'],
        ['drop', 'public.customer_loyalty_idx'],
        ['alter type', 'public.customer.email'],
        ['drop', 'public.customer.loyalty_points'],
      ]);
      expect(stepOf(plan, 'public.customer_loyalty').note).toBe('depends on public.customer.loyalty_points, which the rollback removes: dropped');

      const result = (await client.query(`SELECT pggit.rollback_object('customer', '1.0.0', allow_data_loss => true) AS r`)).rows[0].r;
      expect(result).toMatchObject({ object: 'public.customer', statements: 4, data_lost: ['public.customer.loyalty_points'] });
      const { rows } = await client.query(`
        SELECT pggit.comparable_definition('table', o.definition) = pggit.comparable_definition('table', h.definition_after) AS same
          FROM pggit.objects o JOIN pggit.history h ON h.object_id = o.id AND h.version_after = '1.0.0'
         WHERE o.is_active AND o.full_name = 'public.customer'`);
      expect(rows).toEqual([{ same: true }]);
      // the other migrations stay
      const other = await client.query(`SELECT to_regclass('public.film_category') AS t,
                                                EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'actor'::regclass AND attname = 'last_update') AS c`);
      expect(other.rows).toEqual([{ t: null, c: false }]);
    });
  });
});
