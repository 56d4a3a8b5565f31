// DDL change tracking on real clusters: baseline of an existing schema, tracking a schema as it is
// built, a sequence of changes with definitions before/after and versions, failures that must not
// break the user's DDL, and names that need quoting.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type PgConnection, type TestPostgres } from './support/postgres.ts';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.stop());

async function freshDatabase(): Promise<PgConnection> {
  return { ...server.connection, database: await server.createDatabase('track') };
}

async function connect(c: PgConnection): Promise<pg.Client> {
  const client = new pg.Client(c);
  await client.connect();
  return client;
}

/** Every object of Pagila's public schema, read straight from the catalogs (not through pggit). */
const catalogCountsSql = `
  SELECT 'table' AS type, count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition
  UNION ALL SELECT 'partition', count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND relispartition
  UNION ALL SELECT 'view', count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'v'
  UNION ALL SELECT 'materialized view', count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'm'
  UNION ALL SELECT 'index', count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('i', 'I')
  UNION ALL SELECT 'sequence', count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'S'
  UNION ALL SELECT 'table column', count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'function', count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prokind = 'f'
  UNION ALL SELECT 'aggregate', count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prokind = 'a'
  UNION ALL SELECT 'trigger', count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
  UNION ALL SELECT 'table constraint', count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> 0
  UNION ALL SELECT 'domain constraint', count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contypid <> 0
  UNION ALL SELECT 'domain', count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'd'
  UNION ALL SELECT 'type', count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'e'
  UNION ALL SELECT 'schema', 1`;

async function expectEveryPagilaObjectTracked(client: pg.Client): Promise<void> {
  const catalog = await client.query<{ type: string; count: string }>(catalogCountsSql);
  const tracked = await client.query<{ type: string; count: string }>(
    `SELECT object_type AS type, count(*) FROM pggit.objects WHERE is_active GROUP BY 1`,
  );
  const trackedByType = Object.fromEntries(tracked.rows.map((r) => [r.type, Number(r.count)]));
  const catalogByType = Object.fromEntries(catalog.rows.map((r) => [r.type, Number(r.count)]));
  expect(trackedByType).toEqual(catalogByType);
  expect(catalogByType['table column']).toBeGreaterThan(100); // the fixture really is Pagila
  expect(catalogByType.partition).toBe(7);
}

async function history(client: pg.Client, fullName: string) {
  const { rows } = await client.query(
    `SELECT change_type, change_severity, version_before, version_after, definition_before, definition_after, old_full_name, statement
       FROM pggit.history WHERE full_name = $1 ORDER BY id`,
    [fullName],
  );
  return rows;
}

async function version(client: pg.Client, name: string): Promise<string | null> {
  return (await client.query('SELECT pggit.get_version($1) AS v', [name])).rows[0].v;
}

describe('baseline of an existing schema', () => {
  it('records every Pagila object at version 1.0.0 when pggit is installed afterwards', async () => {
    const db = await freshDatabase();
    await loadPagila(server.url(db.database));
    await installPggit(db);
    const client = await connect(db);
    try {
      await expectEveryPagilaObjectTracked(client);
      const { rows } = await client.query(`SELECT DISTINCT version_major || '.' || version_minor || '.' || version_patch AS v FROM pggit.objects`);
      expect(rows).toEqual([{ v: '1.0.0' }]);
      const counts = await client.query(`SELECT change_type, count(*)::int FROM pggit.history GROUP BY 1`);
      const objects = await client.query(`SELECT count(*)::int AS n FROM pggit.objects`);
      expect(counts.rows).toEqual([{ change_type: 'BASELINE', count: objects.rows[0].n }]);
      expect((await client.query('SELECT count(*)::int AS n FROM pggit.tracking_errors')).rows[0].n).toBe(0);
      // Definitions are complete enough to recreate: the domain with the non-ASCII name and the view.
      const defs = await client.query(`SELECT full_name, definition FROM pggit.objects WHERE full_name IN ('public."bıgınt"', 'public.year', 'public.payment')`);
      const byName = Object.fromEntries(defs.rows.map((r) => [r.full_name, r.definition]));
      expect(byName['public."bıgınt"']).toBe('CREATE DOMAIN public."bıgınt" AS bigint;');
      expect(byName['public.year']).toContain('CONSTRAINT year_check CHECK (((VALUE >= 1901) AND (VALUE <= 2155)))');
      expect(byName['public.payment']).toMatch(/^CREATE TABLE public\.payment \(\n {4}payment_id integer DEFAULT nextval\('public\.payment_payment_id_seq'::regclass\) NOT NULL,[\s\S]*\) PARTITION BY RANGE \(payment_date\);$/);
    } finally {
      await client.end();
    }
  });
});

describe('tracking a schema as it is built', () => {
  it('tracks every Pagila object with its type and dependencies when Pagila is loaded after pggit', async () => {
    const db = await freshDatabase();
    await installPggit(db);
    await loadPagila(server.url(db.database), ['schema']);
    const client = await connect(db);
    try {
      await expectEveryPagilaObjectTracked(client);
      expect((await client.query('SELECT count(*)::int AS n FROM pggit.tracking_errors')).rows[0].n).toBe(0);
      const deps = await client.query<{ dependent_object: string; dependency_object: string }>(
        `SELECT dependent_object, dependency_object FROM pggit.dependencies`,
      );
      const has = (a: string, b: string) => deps.rows.some((d) => d.dependent_object === a && d.dependency_object === b);
      expect(has('public.actor_info', 'public.actor.first_name')).toBe(true); // view -> column it reads
      expect(has('public.actor_info', 'public.group_concat(pg_catalog.text)')).toBe(true); // view -> aggregate
      expect(has('last_updated on public.actor', 'public.last_updated()')).toBe(true); // trigger -> function
      expect(has('public.film.rating', 'public.mpaa_rating')).toBe(true); // column -> enum type
      expect(has('public.customer.customer_id', 'public.customer_customer_id_seq')).toBe(true); // default -> sequence
      expect(has('public.payment_p2022_01', 'public.payment')).toBe(true); // partition -> parent
      expect(has('public.film_fulltext_idx', 'public.film.fulltext')).toBe(true); // index -> column
      expect(has('film_actor_film_id_fkey on public.film_actor', 'public.film.film_id')).toBe(true); // FK -> referenced column
      // Every dependency names a live tracked object (the guide's missing-dependency query finds nothing).
      const missing = await client.query(`
        SELECT d.* FROM pggit.dependencies d
          LEFT JOIN pggit.objects o1 ON d.dependent_object = o1.full_name
          LEFT JOIN pggit.objects o2 ON d.dependency_object = o2.full_name
         WHERE o1.id IS NULL OR o2.id IS NULL`);
      expect(missing.rows).toEqual([]);
      // The statement that created an object is kept with it.
      const created = await history(client, 'public.film');
      expect(created[0]).toMatchObject({ change_type: 'CREATE', change_severity: 'MINOR', version_after: '1.0.0', definition_before: null });
      expect(created[0].statement).toContain('CREATE TABLE public.film');
    } finally {
      await client.end();
    }
  });
});

describe('a sequence of DDL', () => {
  let client: pg.Client;
  beforeAll(async () => {
    const db = await freshDatabase();
    await installPggit(db);
    client = await connect(db);
    await client.query(`CREATE TABLE public.orders (id bigint PRIMARY KEY, amount numeric(10,2) NOT NULL)`);
  });
  afterAll(() => client?.end());

  it('CREATE: version 1.0.0 with the definition after and none before', async () => {
    expect(await version(client, 'public.orders')).toBe('1.0.0');
    expect(await version(client, 'orders')).toBe('1.0.0'); // resolved through search_path
    expect(await version(client, 'public.orders.amount')).toBe('1.0.0');
    const [row] = await history(client, 'public.orders');
    expect(row).toMatchObject({ change_type: 'CREATE', version_before: null, version_after: '1.0.0', definition_before: null });
    expect(row.definition_after).toBe('CREATE TABLE public.orders (\n    id bigint NOT NULL,\n    amount numeric(10,2) NOT NULL,\n    CONSTRAINT orders_pkey PRIMARY KEY (id)\n);');
  });

  it('ADD COLUMN is an addition: MINOR for the table, a new column object', async () => {
    await client.query(`ALTER TABLE public.orders ADD COLUMN note text DEFAULT 'none'`);
    expect(await version(client, 'public.orders')).toBe('1.1.0');
    expect(await version(client, 'public.orders.note')).toBe('1.0.0');
    const rows = await history(client, 'public.orders');
    const last = rows.at(-1);
    expect(last).toMatchObject({ change_type: 'ALTER', change_severity: 'MINOR', version_before: '1.0.0', version_after: '1.1.0' });
    expect(last.definition_before).not.toContain('note');
    expect(last.definition_after).toContain("note text DEFAULT 'none'::text");
    expect(last.statement).toBe(`ALTER TABLE public.orders ADD COLUMN note text DEFAULT 'none'`);
  });

  it('RENAME COLUMN breaks clients: MAJOR, and the column keeps its history under the new name', async () => {
    await client.query(`ALTER TABLE public.orders RENAME COLUMN note TO remark`);
    expect(await version(client, 'public.orders')).toBe('2.0.0');
    expect(await version(client, 'public.orders.remark')).toBe('2.0.0');
    expect(await version(client, 'public.orders.note')).toBeNull();
    const rows = await history(client, 'public.orders.remark');
    expect(rows.at(-1)).toMatchObject({ change_type: 'RENAME', change_severity: 'MAJOR', old_full_name: 'public.orders.note' });
  });

  it('ALTER COLUMN TYPE is breaking: MAJOR, with both definitions kept', async () => {
    await client.query(`ALTER TABLE public.orders ALTER COLUMN amount TYPE numeric(12,2)`);
    expect(await version(client, 'public.orders.amount')).toBe('2.0.0');
    expect(await version(client, 'public.orders')).toBe('3.0.0');
    const last = (await history(client, 'public.orders.amount')).at(-1);
    expect(last.definition_before).toBe('ALTER TABLE public.orders ADD COLUMN amount numeric(10,2) NOT NULL;');
    expect(last.definition_after).toBe('ALTER TABLE public.orders ADD COLUMN amount numeric(12,2) NOT NULL;');
  });

  it('CREATE INDEX: a new index object, PATCH for its table', async () => {
    await client.query(`CREATE INDEX orders_amount_idx ON public.orders (amount)`);
    expect(await version(client, 'public.orders_amount_idx')).toBe('1.0.0');
    expect(await version(client, 'public.orders')).toBe('3.0.1');
    const deps = await client.query(`SELECT dependency_object FROM pggit.dependencies WHERE dependent_object = 'public.orders_amount_idx'`);
    expect(deps.rows).toEqual([{ dependency_object: 'public.orders.amount' }]);
  });

  it('COMMENT is a PATCH', async () => {
    await client.query(`COMMENT ON TABLE public.orders IS 'customer orders'`);
    expect(await version(client, 'public.orders')).toBe('3.0.2');
    const last = (await history(client, 'public.orders')).at(-1);
    expect(last).toMatchObject({ change_type: 'COMMENT', change_severity: 'PATCH' });
    expect(last.definition_after).toContain("COMMENT ON TABLE public.orders IS 'customer orders';");
  });

  it('CREATE VIEW over the renamed column records its dependency on that column', async () => {
    await client.query(`CREATE VIEW public.big_orders AS SELECT id, remark FROM public.orders WHERE amount > 100`);
    const deps = await client.query(`SELECT dependency_object FROM pggit.dependencies WHERE dependent_object = 'public.big_orders' ORDER BY 1`);
    expect(deps.rows.map((r) => r.dependency_object)).toEqual(['public', 'public.orders.amount', 'public.orders.id', 'public.orders.remark']);
    expect(await version(client, 'public.big_orders')).toBe('1.0.0');
  });

  it('DROP: MAJOR, the last definition kept for undo, dependencies gone', async () => {
    await client.query(`DROP VIEW public.big_orders`);
    await client.query(`ALTER TABLE public.orders DROP COLUMN remark`);
    const view = (await history(client, 'public.big_orders')).at(-1);
    expect(view).toMatchObject({ change_type: 'DROP', change_severity: 'MAJOR', version_before: '1.0.0', version_after: '2.0.0', definition_after: null });
    expect(view.definition_before).toContain('CREATE OR REPLACE VIEW public.big_orders AS');
    const column = (await history(client, 'public.orders.remark')).at(-1);
    expect(column).toMatchObject({ change_type: 'DROP', change_severity: 'MAJOR' });
    expect(column.definition_before).toBe(`ALTER TABLE public.orders ADD COLUMN remark text DEFAULT 'none'::text;`);
    expect(await version(client, 'public.orders')).toBe('4.0.0'); // the table lost a column: MAJOR
    const deps = await client.query(`SELECT count(*)::int AS n FROM pggit.dependencies WHERE dependent_object = 'public.big_orders' OR dependency_object = 'public.orders.remark'`);
    expect(deps.rows[0].n).toBe(0);
  });

  it('DROP TABLE marks the table and all its parts dropped; re-creating it starts a new major version', async () => {
    await client.query(`DROP TABLE public.orders`);
    const live = await client.query(`SELECT full_name FROM pggit.objects WHERE is_active AND (full_name LIKE 'public.orders%' OR parent_name = 'public.orders')`);
    expect(live.rows).toEqual([]);
    await client.query(`CREATE TABLE public.orders (id bigint)`);
    expect(await version(client, 'public.orders')).toBe('6.0.0');
    const last = (await history(client, 'public.orders')).at(-1);
    expect(last).toMatchObject({ change_type: 'CREATE', change_severity: 'MAJOR', version_before: '5.0.0' });
  });

  it('ALTER ... OWNER TO changes no definition and records nothing', async () => {
    const before = (await client.query('SELECT count(*)::int AS n FROM pggit.history')).rows[0].n;
    await client.query(`ALTER TABLE public.orders OWNER TO CURRENT_USER`);
    expect((await client.query('SELECT count(*)::int AS n FROM pggit.history')).rows[0].n).toBe(before);
  });
});

describe('stored definitions stay current', () => {
  // Tracking re-reads only the parts of a table that a statement wrote (plus whatever prints a
  // renamed name); after each of these statements every stored definition must still equal the
  // catalog's, which is what verify_database_integrity() compares.
  const statements = [
    `CREATE TABLE public.t (id int PRIMARY KEY, a text CHECK (a <> ''), b int REFERENCES public.t (id))`,
    `CREATE INDEX t_a_idx ON public.t (a)`,
    `CREATE INDEX t_lower_a_idx ON public.t (lower(a))`,
    `CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
    `CREATE TRIGGER t_touch BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION public.touch()`,
    `CREATE TABLE public.u (id int PRIMARY KEY, t_id int REFERENCES public.t (id))`,
    `COMMENT ON COLUMN public.t.a IS 'the a'`,
    `COMMENT ON INDEX public.t_a_idx IS 'by a'`,
    `ALTER TABLE public.t RENAME COLUMN a TO a2`,
    `ALTER TABLE public.t RENAME COLUMN id TO t_id`,
    `COMMENT ON COLUMN public.t.a2 IS NULL`,
    `COMMENT ON INDEX public.t_a_idx IS NULL`,
    `ALTER TABLE public.t ALTER COLUMN a2 TYPE varchar(50)`,
    `ALTER TABLE public.t ALTER COLUMN b SET DEFAULT 1`,
    `ALTER INDEX public.t_a_idx RENAME TO t_a2_idx`,
    `ALTER TABLE public.t RENAME CONSTRAINT t_a_check TO t_a2_check`,
    `ALTER TABLE public.t RENAME TO t2`,
    `ALTER TABLE public.t2 ADD COLUMN c int GENERATED ALWAYS AS (b * 2) STORED`,
    `ALTER TABLE public.t2 SET SCHEMA other`,
    `ALTER TABLE other.t2 DROP COLUMN c`,
    `ALTER TRIGGER t_touch ON other.t2 RENAME TO t2_touch`,
    `CREATE SEQUENCE public.s`,
    `ALTER TABLE other.t2 ALTER COLUMN b SET DEFAULT nextval('public.s')`,
    `ALTER SEQUENCE public.s RENAME TO s2`,
    `ALTER TABLE other.t2 ALTER COLUMN b DROP DEFAULT`,
    `ALTER TABLE other.t2 ALTER COLUMN a2 SET NOT NULL`,
    `ALTER TABLE other.t2 OWNER TO CURRENT_USER`,
  ];
  it('through renames, comments added and removed, type changes and moves between schemas', async () => {
    const db = await freshDatabase();
    await installPggit(db);
    const client = await connect(db);
    try {
      await client.query('CREATE SCHEMA other');
      for (const statement of statements) {
        await client.query(statement);
        const { rows } = await client.query(`SELECT check_name, object_name, details FROM pggit.verify_database_integrity() WHERE status <> 'OK'`);
        expect({ statement, problems: rows }).toEqual({ statement, problems: [] });
      }
      expect((await client.query('SELECT count(*)::int AS n FROM pggit.tracking_errors')).rows[0].n).toBe(0);
      // Adding and removing the column's comment each gave it a version (its history follows it
      // through the renames, by object id).
      const { rows } = await client.query(
        `SELECT h.change_type, h.full_name FROM pggit.history h JOIN pggit.objects o ON o.id = h.object_id
          WHERE o.is_active AND o.full_name = 'other.t2.a2' ORDER BY h.id`);
      expect(rows.filter((r) => r.change_type === 'COMMENT')).toEqual([
        { change_type: 'COMMENT', full_name: 'public.t.a' },
        { change_type: 'COMMENT', full_name: 'public.t.a2' },
      ]);
    } finally {
      await client.end();
    }
  });
});

describe('tracking never breaks the user\'s DDL', () => {
  it('records a tracking failure and lets the statement succeed; strict mode turns it into an error', async () => {
    const db = await freshDatabase();
    await installPggit(db);
    const client = await connect(db);
    try {
      // Break tracking on purpose: history rejects every new row.
      await client.query(`ALTER TABLE pggit.history ADD CONSTRAINT broken CHECK (false) NOT VALID`);
      await client.query(`CREATE TABLE public.still_works (id int)`);
      expect((await client.query(`SELECT to_regclass('public.still_works') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);
      const errors = await client.query(`SELECT command_tag, sqlstate, message, statement FROM pggit.tracking_errors`);
      expect(errors.rows).toEqual([
        expect.objectContaining({ command_tag: 'CREATE TABLE', sqlstate: '23514', statement: 'CREATE TABLE public.still_works (id int)' }),
      ]);
      expect(errors.rows[0].message).toContain('broken');

      await client.query(`ALTER TABLE pggit.history DROP CONSTRAINT broken`);
      await client.query(`SELECT pggit.configure_tracking(strict_mode => true)`);
      await client.query(`ALTER TABLE pggit.history ADD CONSTRAINT broken CHECK (false) NOT VALID`);
      await expect(client.query(`CREATE TABLE public.refused (id int)`)).rejects.toThrow(/pggit tracking failed \(strict mode\)/);
      expect((await client.query(`SELECT to_regclass('public.refused') IS NULL AS gone`)).rows[0].gone).toBe(true);
    } finally {
      await client.end();
    }
  });
});

describe('who made a change', () => {
  it('records the role that ran the DDL, which needs no rights on pggit', async () => {
    const db = await freshDatabase();
    await installPggit(db);
    const admin = await connect(db);
    try {
      await admin.query(`CREATE ROLE app_owner LOGIN PASSWORD 'pw-app-owner'; CREATE SCHEMA app AUTHORIZATION app_owner`);
      const app = await connect({ ...db, user: 'app_owner', password: 'pw-app-owner' });
      try {
        await app.query(`CREATE TABLE app.things (id int)`);
        await expect(app.query(`SELECT pggit.record_object(0, 0, 0, 'forged')`)).rejects.toThrow(/permission denied/);
      } finally {
        await app.end();
      }
      const { rows } = await admin.query(`SELECT role_name, change_type FROM pggit.history WHERE full_name = 'app.things'`);
      expect(rows).toEqual([{ role_name: 'app_owner', change_type: 'CREATE' }]);
    } finally {
      await admin.query(`DROP SCHEMA app CASCADE; DROP OWNED BY app_owner; DROP ROLE app_owner`);
      await admin.end();
    }
  });
});

describe('configure_tracking', () => {
  it('tracks only the listed schemas, skips temp tables, and baselines a schema when it is added', async () => {
    const db = await freshDatabase();
    await installPggit(db);
    const client = await connect(db);
    try {
      await client.query(`CREATE SCHEMA app; CREATE SCHEMA scratch`);
      const settings = await client.query(
        `SELECT pggit.configure_tracking(schemas => ARRAY['app'], exclude_temp_tables => true, track_system_objects => false) AS s`,
      );
      expect(settings.rows[0].s).toMatchObject({ schemas: ['app'], exclude_temp_tables: true, track_system_objects: false });
      await client.query(`CREATE TABLE app.kept (id int); CREATE TABLE scratch.ignored (id int); CREATE TEMP TABLE tmp_ignored (id int)`);
      expect(await version(client, 'app.kept')).toBe('1.0.0');
      expect(await version(client, 'scratch.ignored')).toBeNull();
      const temp = await client.query(`SELECT count(*)::int AS n FROM pggit.objects WHERE full_name LIKE '%tmp_ignored%'`);
      expect(temp.rows[0].n).toBe(0);
      // pg_class exists but is a system object: get_version answers NULL rather than failing.
      expect(await version(client, 'pg_class')).toBeNull();

      await client.query(`SELECT pggit.configure_tracking(schemas => ARRAY['app', 'scratch'])`);
      expect(await version(client, 'scratch.ignored')).toBe('1.0.0');
      const baseline = await client.query(`SELECT change_type FROM pggit.history WHERE full_name = 'scratch.ignored'`);
      expect(baseline.rows).toEqual([{ change_type: 'BASELINE' }]);
    } finally {
      await client.end();
    }
  });
});

describe('names that need quoting', () => {
  it('tracks schemas, tables, columns and functions with quotes, spaces, dots, upper case and non-ASCII letters', async () => {
    const db = await freshDatabase();
    await installPggit(db);
    const client = await connect(db);
    try {
      await client.query(`CREATE SCHEMA "Sch ema"`);
      await client.query(`CREATE TABLE "Sch ema"."We""ird.Name" ("Ünïcödé Col" int, "semi;colon" text)`);
      await client.query(`CREATE FUNCTION "Sch ema"."f'n"("a b" int) RETURNS int LANGUAGE sql AS 'SELECT 1'`);
      await client.query(`ALTER TABLE "Sch ema"."We""ird.Name" RENAME TO "Dröp Me"`);
      await client.query(`COMMENT ON COLUMN "Sch ema"."Dröp Me"."Ünïcödé Col" IS 'it''s quoted'`);

      const names = await client.query(`SELECT object_type, full_name FROM pggit.objects WHERE is_active AND schema_name = 'Sch ema' ORDER BY 2`);
      expect(names.rows).toEqual([
        { object_type: 'table', full_name: '"Sch ema"."Dröp Me"' },
        { object_type: 'table column', full_name: '"Sch ema"."Dröp Me"."semi;colon"' },
        { object_type: 'table column', full_name: '"Sch ema"."Dröp Me"."Ünïcödé Col"' },
        { object_type: 'function', full_name: `"Sch ema"."f'n"(integer)` },
      ]);
      expect(await version(client, '"Sch ema"."Dröp Me"')).toBe('2.0.1'); // renamed (MAJOR), then a column comment (PATCH)
      const rename = (await history(client, '"Sch ema"."Dröp Me"')).find((r) => r.change_type === 'RENAME');
      expect(rename.old_full_name).toBe('"Sch ema"."We""ird.Name"');
      const column = (await client.query(`SELECT definition FROM pggit.objects WHERE full_name = '"Sch ema"."Dröp Me"."Ünïcödé Col"'`)).rows[0];
      expect(column.definition).toBe(`ALTER TABLE "Sch ema"."Dröp Me" ADD COLUMN "Ünïcödé Col" integer;\nCOMMENT ON COLUMN "Sch ema"."Dröp Me"."Ünïcödé Col" IS 'it''s quoted';`);

      // The stored definitions really recreate the objects: drop them and run the definitions.
      const defs = await client.query(`SELECT definition FROM pggit.objects WHERE is_active AND object_type IN ('table', 'function') AND schema_name = 'Sch ema'`);
      await client.query(`DROP TABLE "Sch ema"."Dröp Me"; DROP FUNCTION "Sch ema"."f'n"(int)`);
      for (const { definition } of defs.rows) await client.query(definition);
      expect((await client.query(`SELECT to_regclass('"Sch ema"."Dröp Me"') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);
      expect((await client.query('SELECT count(*)::int AS n FROM pggit.tracking_errors')).rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });
});
