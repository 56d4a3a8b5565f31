// Measuring migrations on a real PostgreSQL 15 cluster with pggit installed: `pggit-ops risk
// --database-url` (TypeScript, statement by statement) and pggit.assess_migration_risk() (SQL, for
// psql users), both always rolled back; analyze_migration_with_ai's record; generate_cicd_config.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platforms, renderPipeline } from '../../cicd/pipelines.ts';
import { assessFiles, type FileReport } from '../../risk/assess.ts';
import { SEVERITY_WEIGHTS } from '../../risk/score.ts';
import { pgBin, projectRoot } from '../../worker/tools.ts';
import { installPggit } from '../support/pggit.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

let server: TestPostgres;
let client: pg.Client;
let dir: string;

/** What a migration could leave behind: tables, columns with types, relfilenodes, constraints, indexes. */
const catalogState = async () =>
  (await client.query(`
    SELECT c.relname, c.relfilenode::text, c.relkind,
           (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY a.attnum)
              FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
           (SELECT string_agg(conname, ', ' ORDER BY conname) FROM pg_constraint WHERE conrelid = c.oid) AS constraints
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' ORDER BY c.relname`)).rows;

const migration = (name: string, sql: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, sql);
  return file;
};

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  client = new pg.Client(server.connection);
  await client.connect();
  await client.query(`
    CREATE TABLE users (id int PRIMARY KEY, email text, name text);
    INSERT INTO users SELECT g, 'user' || g || '@example.org', 'n' || g FROM generate_series(1, 2000) g;
    CREATE TABLE orders (id bigint PRIMARY KEY, user_id int);
    ANALYZE users;`);
  dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-risk-measure-'));
});
afterAll(async () => {
  await client?.end();
  await server?.stop();
});

describe('pggit-ops risk --database-url (measured in TypeScript)', () => {
  it('detects the rewrite and the ACCESS EXCLUSIVE lock at the statement, with the rows, and leaves nothing changed', async () => {
    const before = await catalogState();
    const file = migration('rewrite.sql', `SET lock_timeout = '2s';
SET statement_timeout = '1min';
CREATE TABLE IF NOT EXISTS audit (id bigint);
-- é
ALTER TABLE users ALTER COLUMN id TYPE bigint;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;
`);
    const [report] = (await assessFiles([file], { databaseUrl: server.url() })) as FileReport[];

    const measured = report!.findings.filter((f) => f.source === 'measured');
    expect(measured.map((f) => [f.rule, f.line, f.column, f.severity])).toEqual([
      ['access-exclusive-lock', 5, 1, 'medium'],
      ['table-rewrite', 5, 1, 'high'],
      ['access-exclusive-lock', 6, 1, 'medium'],
    ]);
    expect(measured[1]!.message).toContain('users (2000 rows)');
    const alter = report!.measured!.find((m) => m.line === 5)!;
    expect(alter.rewrites).toEqual([{ table: 'users', rows: 2000 }]);
    expect(alter.locks).toContainEqual({ table: 'users', mode: 'AccessExclusiveLock' });
    // The new table is not reported: it did not exist before, so locking it blocks no one.
    expect(report!.measured!.flatMap((m) => m.locks.map((l) => l.table))).not.toContain('audit');
    expect(await catalogState()).toEqual(before);
  });

  it('reports statements that cannot run in a transaction as not measured and goes on; a failure is critical at its position', async () => {
    const file = migration('mixed.sql', `CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);
ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text;
`);
    const [report] = (await assessFiles([file], { databaseUrl: server.url() })) as FileReport[];
    const measured = report!.findings.filter((f) => f.source === 'measured').map((f) => [f.rule, f.line, f.severity]);
    expect(measured).toEqual([['not-measured', 1, 'info'], ['access-exclusive-lock', 2, 'medium']]);

    const failing = migration('failing.sql', "SELECT 1;\nSELECT 'é'; UPDATE users SET email = nosuch;\n");
    const [failed] = (await assessFiles([failing], { databaseUrl: server.url() })) as FileReport[];
    expect(failed!.findings.filter((f) => f.source === 'measured')).toEqual([
      expect.objectContaining({ rule: 'migration-fails', severity: 'critical', line: 2, column: 38, message: expect.stringContaining('column "nosuch" does not exist (SQLSTATE 42703)') }),
    ]);
  });

  it('through the CLI: JSON with the measurement, exit 1 over the limit, and the database unchanged', async () => {
    const before = await catalogState();
    const file = migration('cli.sql', 'ALTER TABLE users ALTER COLUMN name TYPE varchar(5) USING left(name, 5);\n');
    const run = await execa('node', [path.join(projectRoot, 'cli/bin.mjs'), 'risk', '--json', '--database-url', server.url(), file], { reject: false });
    expect(run.exitCode, run.stderr).toBe(1);
    const [report] = JSON.parse(run.stdout);
    expect(report.measured).toContainEqual(expect.objectContaining({ line: 1, column: 1, rewrites: [{ table: 'users', rows: 2000 }] }));
    expect(report.score).toBeGreaterThan(50);
    expect(await catalogState()).toEqual(before);
  });
});

describe('pggit.assess_migration_risk (SQL)', () => {
  it('answers the guide\'s query with one integer, through psql as CI runs it', async () => {
    const sql = "SELECT risk_score FROM pggit.assess_migration_risk('ALTER TABLE users ALTER COLUMN id TYPE bigint')";
    const { stdout } = await execa(pgBin('psql'), ['-X', '-t', '-A', '-d', server.url(), '-c', sql]);
    // table-rewrite (high, 2000 rows) + access-exclusive-lock (medium) + changing-column-type (high)
    expect(Number(stdout.trim())).toBe(2 * SEVERITY_WEIGHTS.high + SEVERITY_WEIGHTS.medium);
  });

  it('reports rewrites, locks and catalog changes, then rolls everything back', async () => {
    const before = await catalogState();
    const { rows } = await client.query(`SELECT * FROM pggit.assess_migration_risk($1)`, [`
      ALTER TABLE users ALTER COLUMN id TYPE bigint;
      ALTER TABLE users DROP COLUMN name;
      ALTER TABLE users ALTER COLUMN email SET NOT NULL;
      CREATE INDEX ON orders (user_id);
      ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
      CREATE TABLE codes (c char(3), at timestamp)`]);
    expect(rows).toHaveLength(1);
    const { risk_score: score, findings, locks, rewrites } = rows[0];
    expect(score).toBe(100);
    expect(rewrites).toEqual([{ table: 'users', rows: 2000 }]);
    expect(locks).toContainEqual({ table: 'users', mode: 'AccessExclusiveLock' });
    // CREATE INDEX and the foreign key lock orders against writes, not against reads.
    expect(locks).toEqual(expect.arrayContaining([{ table: 'orders', mode: 'ShareLock' }, { table: 'orders', mode: 'ShareRowExclusiveLock' }]));
    expect(locks).not.toContainEqual({ table: 'orders', mode: 'AccessExclusiveLock' });
    expect(findings.map((f: { rule: string }) => f.rule).sort()).toEqual([
      'access-exclusive-lock', 'changing-column-type', 'constraint-missing-not-valid', 'dropping-column',
      'prefer-text-over-char', 'prefer-timestamptz', 'require-concurrent-index-creation', 'setting-not-null', 'table-rewrite',
    ]);
    expect(findings[0]).toEqual({
      rule: 'table-rewrite', severity: 'high', lock: 'AccessExclusiveLock', line: null, column: null, source: 'measured',
      message: expect.stringMatching(/^users \(2000 rows\): /), alternative: expect.any(String),
    });
    expect(await catalogState()).toEqual(before);
  });

  it('reports what it cannot run or what fails instead of crashing; empty text scores 0', async () => {
    const one = async (sql: string) => (await client.query(`SELECT risk_score, findings FROM pggit.assess_migration_risk($1)`, [sql])).rows[0];
    const concurrently = await one('CREATE INDEX CONCURRENTLY users_email_idx ON users (email)');
    expect(concurrently.risk_score).toBe(0);
    expect(concurrently.findings).toEqual([expect.objectContaining({ rule: 'not-measured', severity: 'info', message: expect.stringContaining('SQLSTATE 25001') })]);
    expect((await one('VACUUM users')).findings[0].rule).toBe('not-measured');
    expect((await one('BEGIN; ALTER TABLE users ADD COLUMN x int; COMMIT;')).findings[0].rule).toBe('not-measured');
    const fails = await one('ALTER TABLE nowhere ADD COLUMN x int');
    expect(fails.risk_score).toBe(SEVERITY_WEIGHTS.critical);
    expect(fails.findings[0]).toMatchObject({ rule: 'migration-fails', message: expect.stringContaining('42P01') });
    expect(await one('  ')).toEqual({ risk_score: 0, findings: [] });
  });
});

describe('pggit.analyze_migration_with_ai and generate_cicd_config', () => {
  it('records the analysis with its build id and source, and says no model was used', async () => {
    const { rows } = await client.query(`SELECT pggit.analyze_migration_with_ai('build-42', 'ALTER TABLE users RENAME TO people', 'jenkins') AS explanation`);
    expect(rows[0].explanation).toMatch(/^Risk score 28\/100 \(2 findings\)\. Deterministic analysis: no language model was used/);
    expect(rows[0].explanation).toContain('renaming-table: users to people');
    const recorded = await client.query(`SELECT build_id, source, risk_score, explanation, jsonb_array_length(findings) AS n FROM pggit.migration_analyses WHERE build_id = 'build-42'`);
    expect(recorded.rows).toEqual([{ build_id: 'build-42', source: 'jenkins', risk_score: 28, explanation: rows[0].explanation, n: 2 }]);
    await expect(client.query(`SELECT pggit.analyze_migration_with_ai('', 'SELECT 1', 'github')`)).rejects.toMatchObject({ code: '22023' });
  });

  it('returns the same pipelines as `pggit-ops cicd generate`, and refuses bad options', async () => {
    for (const platform of platforms) {
      const { rows } = await client.query('SELECT pggit.generate_cicd_config($1) AS a, pggit.generate_cicd_config($1, $2, $3) AS b', [platform, 'db/migrations', 30]);
      expect(rows[0].a).toBe(renderPipeline(platform));
      expect(rows[0].b).toBe(renderPipeline(platform, { migrationsDir: 'db/migrations', maxRisk: 30 }));
    }
    for (const args of [['gitlab', 'migrations', 50], ['github', '../x', 50], ['github', 'a b', 50], ['jenkins', 'migrations', 101]]) {
      await expect(client.query('SELECT pggit.generate_cicd_config($1, $2, $3)', args)).rejects.toMatchObject({ code: '22023' });
    }
  });
});
