// The migration runner and `pggit-ops install`, against real throwaway clusters: fixture folders
// written per test for the runner's rules, the real sql/ folder for the command.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { applyMigrations } from '../activities/migrations.ts';
import { projectRoot } from '../worker/tools.ts';
import { startPostgres, withPgClient, type PgConnection, type TestPostgres } from './support/postgres.ts';

let pgs: TestPostgres;
const tempDirs: string[] = [];

beforeAll(async () => {
  pgs = await startPostgres();
});
afterAll(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  await pgs?.stop();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

function fixtures(files: Record<string, string>): string {
  const dir = tempDir('pggit-ops-migrations-');
  for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(dir, name), sql);
  return dir;
}

async function freshDatabase(): Promise<PgConnection> {
  return { ...pgs.connection, database: await pgs.createDatabase('mig') };
}

/** Runs the migrations in `dir` on a connection of its own. */
async function migrate(connection: PgConnection, dir: string, log?: (line: string) => void) {
  return withPgClient(connection, (client) => applyMigrations(client, { dir, log: log ?? (() => {}) }));
}

async function failure(run: Promise<unknown>): Promise<string> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return (err as Error).message;
}

async function ledger(connection: PgConnection): Promise<Array<{ name: string; checksum: string }>> {
  return withPgClient(connection, async (c) => (await c.query('SELECT name, checksum FROM pggit_ops.schema_migrations ORDER BY name')).rows);
}

async function relationExists(connection: PgConnection, name: string): Promise<boolean> {
  return withPgClient(connection, async (c) => (await c.query('SELECT to_regclass($1) IS NOT NULL AS e', [name])).rows[0].e);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// Each file appends its own name, so the order they ran in is visible in the database.
const steps = {
  '001_create_steps.sql': 'CREATE TABLE steps (id serial PRIMARY KEY, name text NOT NULL);\nINSERT INTO steps (name) VALUES (\'001\');\n',
  '002_second.sql': "INSERT INTO steps (name) VALUES ('002');\n",
  '010_tenth.sql': "INSERT INTO steps (name) VALUES ('010');\n",
};

describe('applyMigrations', () => {
  it('applies new files in numeric order, each with a ledger row and checksum', async () => {
    const db = await freshDatabase();
    const dir = fixtures({ ...steps, 'README.md': 'not a migration' });
    const lines: string[] = [];

    const result = await migrate(db, dir, (line) => lines.push(line));

    expect(result).toEqual({ applied: Object.keys(steps), alreadyApplied: [] });
    expect(lines.map((l) => l.replace(/\(\d+ ms\)/, '(N ms)'))).toEqual(Object.keys(steps).map((name) => `applied ${name} (N ms)`));
    const order = await withPgClient(db, async (c) => (await c.query('SELECT name FROM steps ORDER BY id')).rows.map((r) => r.name));
    expect(order).toEqual(['001', '002', '010']);
    const rows = await withPgClient(db, async (c) => (await c.query('SELECT * FROM pggit_ops.schema_migrations ORDER BY name')).rows);
    expect(rows).toEqual(
      Object.entries(steps).map(([name, sql]) => ({
        name,
        checksum: sha256(sql),
        applied_at: expect.any(Date),
        applied_by: pgs.connection.user,
        duration_ms: expect.any(Number),
      })),
    );
  });

  it('is a no-op when run again', async () => {
    const db = await freshDatabase();
    const dir = fixtures(steps);
    await migrate(db, dir);
    const before = await withPgClient(db, async (c) => (await c.query('SELECT * FROM pggit_ops.schema_migrations ORDER BY name')).rows);

    expect(await migrate(db, dir)).toEqual({ applied: [], alreadyApplied: Object.keys(steps) });

    expect(await withPgClient(db, async (c) => (await c.query('SELECT count(*)::int AS n FROM steps')).rows[0].n)).toBe(3);
    expect(await withPgClient(db, async (c) => (await c.query('SELECT * FROM pggit_ops.schema_migrations ORDER BY name')).rows)).toEqual(before);
  });

  it('refuses an applied file whose content changed, before applying anything else', async () => {
    const db = await freshDatabase();
    const dir = fixtures(steps);
    await migrate(db, dir);
    const edited = "INSERT INTO steps (name) VALUES ('002 edited');\n";
    writeFileSync(path.join(dir, '002_second.sql'), edited);
    writeFileSync(path.join(dir, '011_more.sql'), 'CREATE TABLE more (id int);\n');

    const message = await failure(migrate(db, dir));

    expect(message).toContain('002_second.sql');
    expect(message).toContain(sha256(steps['002_second.sql']));
    expect(message).toContain(sha256(edited));
    expect(await relationExists(db, 'more')).toBe(false);
    expect((await ledger(db)).map((r) => r.name)).toEqual(Object.keys(steps));
  });

  it('rolls a failing file back completely, names it and where it failed, and keeps earlier files', async () => {
    const db = await freshDatabase();
    const dir = fixtures({
      '001_ok.sql': 'CREATE TABLE ok (id int);\n',
      '002_broken.sql': 'CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nSELECT FROM WHERE;\n',
      '003_after.sql': 'CREATE TABLE after_broken (id int);\n',
    });

    const message = await failure(migrate(db, dir));

    expect(message).toMatch(/^002_broken\.sql at line 3, column 13: syntax error at or near "WHERE"/);
    expect(await relationExists(db, 'half')).toBe(false);
    expect(await relationExists(db, 'after_broken')).toBe(false);
    expect(await relationExists(db, 'ok')).toBe(true);
    expect((await ledger(db)).map((r) => r.name)).toEqual(['001_ok.sql']);

    // Fixed, it goes through, and so do the files after it.
    writeFileSync(path.join(dir, '002_broken.sql'), 'CREATE TABLE half (id int);\n');
    expect(await migrate(db, dir)).toEqual({ applied: ['002_broken.sql', '003_after.sql'], alreadyApplied: ['001_ok.sql'] });
  });

  it('names the file for errors raised while it runs, with their context', async () => {
    const db = await freshDatabase();
    const dir = fixtures({
      '001_raise.sql': "DO $$ BEGIN RAISE EXCEPTION 'pggit needs %', 'something'; END $$;\n",
    });

    const message = await failure(migrate(db, dir));

    expect(message).toMatch(/^001_raise\.sql: pggit needs something\n {2}context: PL\/pgSQL function inline_code_block line 1 at RAISE/);
    expect(await ledger(db)).toEqual([]);
  });

  it('refuses a file that commits or rolls back the transaction it runs in', async () => {
    const db = await freshDatabase();
    const dir = fixtures({ '001_commits.sql': 'CREATE TABLE committed_early (id int);\nCOMMIT;\nCREATE TABLE after_commit (id int);\n' });

    const message = await failure(migrate(db, dir));

    expect(message).toMatch(/^001_commits\.sql ends the transaction it runs in/);
    expect(await ledger(db)).toEqual([]);
  });

  it('serialises concurrent runs: the second waits, then finds everything applied', async () => {
    const db = await freshDatabase();
    // Not idempotent (a second CREATE TABLE fails), and slow enough for the runs to overlap.
    const dir = fixtures({
      '001_slow.sql': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(1);\n',
      '002_next.sql': 'CREATE TABLE next_one (id int);\n',
    });
    const logs: string[][] = [[], []];

    const results = await Promise.all(logs.map((lines) => migrate(db, dir, (line) => lines.push(line))));

    const names = ['001_slow.sql', '002_next.sql'];
    expect(results).toEqual(
      expect.arrayContaining([
        { applied: names, alreadyApplied: [] },
        { applied: [], alreadyApplied: names },
      ]),
    );
    expect(logs.flat().filter((line) => line.startsWith('waiting for another install'))).toHaveLength(1);
    expect((await ledger(db)).map((r) => r.name)).toEqual(names);
  });

  it('refuses file names that do not follow NNN_name.sql, naming them', async () => {
    const db = await freshDatabase();
    for (const bad of ['2_short_number.sql', '002_Mixed-Case.sql', '002_upper_ext.SQL']) {
      const message = await failure(migrate(db, fixtures({ ...steps, [bad]: 'SELECT 1;\n' })));
      expect(message).toContain(bad);
      expect(message).toContain('NNN_name.sql');
    }
    expect(await relationExists(db, 'steps')).toBe(false);
  });

  it('refuses two files with one number', async () => {
    const db = await freshDatabase();
    const message = await failure(migrate(db, fixtures({ ...steps, '002_other.sql': 'SELECT 1;\n' })));
    expect(message).toContain('migrations share a number: 002_other.sql and 002_second.sql');
    expect(await relationExists(db, 'steps')).toBe(false);
  });

  it('reports an applied file that is missing from the folder', async () => {
    const db = await freshDatabase();
    const dir = fixtures(steps);
    await migrate(db, dir);
    unlinkSync(path.join(dir, '002_second.sql'));
    writeFileSync(path.join(dir, '011_more.sql'), 'CREATE TABLE more (id int);\n');

    const message = await failure(migrate(db, dir));

    expect(message).toContain(`002_second.sql was applied but is missing from ${dir}`);
    expect(await relationExists(db, 'more')).toBe(false);
  });

  it('says plainly that event triggers need a superuser', async () => {
    const db = await freshDatabase();
    const role = `installer_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await withPgClient(db, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await c.query(`GRANT CREATE ON DATABASE ${pg.escapeIdentifier(db.database)} TO ${role}`);
    });
    try {
      const dir = fixtures({
        '001_ddl_trigger.sql': `CREATE SCHEMA tracking;
CREATE FUNCTION tracking.track() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER track_ddl ON ddl_command_end EXECUTE FUNCTION tracking.track();
`,
      });

      const message = await failure(migrate({ ...db, user: role, password }, dir));

      expect(message).toBe(
        [
          '001_ddl_trigger.sql: permission denied to create event trigger "track_ddl"',
          'hint: Must be superuser to create an event trigger.',
          `pggit installs event triggers, which only a superuser can create: connect as a superuser (role ${role} is not one)`,
        ].join('\n  '),
      );
      expect(await ledger(db)).toEqual([]);
    } finally {
      await withPgClient(db, async (c) => {
        await c.query(`DROP OWNED BY ${role}`);
        await c.query(`DROP ROLE ${role}`);
      });
    }
  });
});

describe('pggit-ops install', () => {
  const sqlFiles = () => readdirSync(path.join(projectRoot, 'sql')).filter((name) => name.endsWith('.sql')).sort();
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    execa('node', ['cli/bin.mjs', ...args], { cwd: projectRoot, env, reject: false });

  it('installs every file in sql/ with --database-url, and a second run applies nothing', async () => {
    const db = await freshDatabase();
    const url = pgs.url(db.database);
    const files = sqlFiles();
    expect(files.length).toBeGreaterThan(0);

    const first = await cli(['install', '--database-url', url, '--json']);

    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ database: db.database, applied: files, alreadyApplied: [] });
    expect(await ledger(db)).toEqual(files.map((name) => ({ name, checksum: sha256(readFileSync(path.join(projectRoot, 'sql', name), 'utf8')) })));

    const second = await cli(['install', '--database-url', url, '--json']);

    expect(second.exitCode, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ database: db.database, applied: [], alreadyApplied: files });
  });

  it('installs into a configured target with --db, its password from the env variable the config names', async () => {
    const db = await freshDatabase();
    const passwordEnv = `PGGIT_OPS_TEST_PW_${randomBytes(4).toString('hex')}`;
    const configFile = path.join(tempDir('pggit-ops-config-'), 'pggit-ops.config.yaml');
    writeFileSync(configFile, stringify({ targets: { app: { host: db.host, port: db.port, database: db.database, user: db.user, password_env: passwordEnv } } }));
    const files = sqlFiles();

    const result = await cli(['--config', configFile, 'install', '--db', 'app'], { [passwordEnv]: db.password });

    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout.split('\n').map((l) => l.replace(/\(\d+ ms\)/, '(N ms)'))).toEqual([
      ...files.map((name) => `applied ${name} (N ms)`),
      `applied ${files.length} migration${files.length === 1 ? '' : 's'}, 0 already applied`,
    ]);
    expect((await ledger(db)).map((r) => r.name)).toEqual(files);

    const missingSecret = await cli(['--config', configFile, 'install', '--db', 'app']);
    expect(missingSecret.exitCode).toBe(2); // bad input: a config problem
    expect(missingSecret.stderr).toContain(`env ${passwordEnv} (targets.app.password_env) is not set`);
  });

  it('needs exactly one of --db and --database-url (exit 2), and says when it cannot connect (exit 4), with nothing on stdout', async () => {
    for (const args of [['install'], ['install', '--db', 'local', '--database-url', pgs.url()]]) {
      const result = await cli(args);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain('install needs exactly one of --db NAME (a configured target) and --database-url URL');
    }
    const noDatabase = await cli(['install', '--database-url', pgs.url('no_such_database'), '--json']);
    expect(noDatabase.exitCode).toBe(4);
    expect(noDatabase.stdout).toBe('');
    expect(noDatabase.stderr).toContain(`pggit-ops: cannot connect to ${pgs.connection.host}:${pgs.connection.port}/no_such_database: database "no_such_database" does not exist`);
  });
});
