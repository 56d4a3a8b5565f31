// What pggit's DDL tracking costs: the same DDL on a database without pggit (A) and with it (B),
// in one durable cluster. Target: tracked DDL at most 1.5x the untracked time.
//  (a) loading the Pagila schema, statement by statement over one connection (autocommit, as psql
//      -f does), into fresh databases, alternating A/B; median times and B/A.
//  (b) 1,000 ALTER TABLE statements on four Pagila tables holding Pagila's data, each its own
//      transaction, interleaved A/B statement by statement; totals, p50/p95 and B/A.
// When the target is missed, a profiling pass (track_functions = 'all') lists where tracking time goes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { loadPagila, pagilaDir } from '../test/support/pagila.ts';
import { installPggit, median, ms, percentile, ratio, runBench, sum, timed, withCluster, type BenchCluster } from './support.ts';

const TARGET = 1.5;
const SCHEMA_REPETITIONS = Number(process.env.BENCH_SCHEMA_REPETITIONS ?? 5);
const ALTER_STATEMENTS = Number(process.env.BENCH_ALTER_STATEMENTS ?? 1000);
const PROFILE_STATEMENTS = 200;
if (!(Number.isInteger(SCHEMA_REPETITIONS) && SCHEMA_REPETITIONS > 0 && Number.isInteger(ALTER_STATEMENTS) && ALTER_STATEMENTS > 0)) {
  throw new Error('BENCH_SCHEMA_REPETITIONS and BENCH_ALTER_STATEMENTS must be positive integers');
}

/**
 * Splits a pg_dump script into statements: `;` ends one outside quotes ('', "", $tag$), comments
 * (--, nested /* *\/) and E'' strings. Comment-only pieces are dropped.
 */
function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  let meaningful = false; // anything but whitespace and comments since `start`
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (ch === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql.startsWith('/*', i)) (depth++, (i += 2));
        else if (sql.startsWith('*/', i)) (depth--, (i += 2));
        else i++;
      }
    } else if (ch === "'" || ch === '"') {
      const escapes = ch === "'" && /[eE]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? '');
      i++;
      while (i < sql.length) {
        if (escapes && sql[i] === '\\') i += 2;
        else if (sql[i] === ch && sql[i + 1] === ch) i += 2;
        else if (sql[i] === ch) break;
        else i++;
      }
      i++;
      meaningful = true;
    } else if (ch === '$' && !/[\w$]/.test(sql[i - 1] ?? '')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? sql.length : end + tag.length;
      } else i++;
      meaningful = true;
    } else if (ch === ';') {
      if (meaningful) statements.push(sql.slice(start, i + 1).trim());
      start = ++i;
      meaningful = false;
    } else {
      if (!/\s/.test(ch)) meaningful = true;
      i++;
    }
  }
  if (meaningful) statements.push(sql.slice(start).trim());
  return statements;
}

/** What a pg_dump statement does, for the breakdown: 'CREATE TABLE', 'ALTER TABLE ADD CONSTRAINT', 'ALTER ... OWNER TO'. */
function statementKind(statement: string): string {
  const text = statement.replace(/^(\s*--[^\n]*\n)*\s*/, '');
  const words = text.split(/\s+/).slice(0, 2).join(' ').toUpperCase();
  if (/^ALTER\b[\s\S]*\bOWNER TO\b/i.test(text)) return 'ALTER ... OWNER TO';
  if (words === 'ALTER TABLE') {
    const action = /\b(ADD CONSTRAINT|ATTACH PARTITION|ALTER COLUMN)\b/i.exec(text)?.[1];
    return action ? `ALTER TABLE ${action.toUpperCase()}` : words;
  }
  if (/^(SET|SELECT)\b/.test(words)) return 'SET / SELECT (session)';
  return words === 'CREATE UNIQUE' ? 'CREATE INDEX' : words;
}

async function withClient<T>(cluster: BenchCluster, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await cluster.connect(database);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** One ALTER TABLE of the mix, with the kind it is reported under. */
interface Alter {
  kind: string;
  sql: string;
}

/**
 * `count` ALTER TABLE statements in cycles of ten on four Pagila tables: a column is added, given a
 * default, a CHECK, renamed, made NOT NULL, widened, then everything is undone, so the tables end
 * as they began (plus dropped columns). `prefix` keeps column names apart between passes.
 */
function alterMix(count: number, prefix: string): Alter[] {
  const tables = ['public.customer', 'public.film', 'public.rental', 'public.address'];
  const out: Alter[] = [];
  for (let cycle = 0; out.length < count; cycle++) {
    const t = tables[cycle % tables.length]!;
    const c = `${prefix}_c${cycle}`;
    const r = `${prefix}_r${cycle}`;
    const k = `${prefix}_chk${cycle}`;
    out.push(
      { kind: 'ADD COLUMN', sql: `ALTER TABLE ${t} ADD COLUMN ${c} integer DEFAULT 0` },
      { kind: 'SET DEFAULT', sql: `ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT 1` },
      { kind: 'ADD CONSTRAINT CHECK', sql: `ALTER TABLE ${t} ADD CONSTRAINT ${k} CHECK (${c} >= 0)` },
      { kind: 'RENAME COLUMN', sql: `ALTER TABLE ${t} RENAME COLUMN ${c} TO ${r}` },
      { kind: 'SET NOT NULL', sql: `ALTER TABLE ${t} ALTER COLUMN ${r} SET NOT NULL` },
      { kind: 'ALTER TYPE (rewrite)', sql: `ALTER TABLE ${t} ALTER COLUMN ${r} TYPE bigint` },
      { kind: 'DROP NOT NULL', sql: `ALTER TABLE ${t} ALTER COLUMN ${r} DROP NOT NULL` },
      { kind: 'DROP CONSTRAINT', sql: `ALTER TABLE ${t} DROP CONSTRAINT ${k}` },
      { kind: 'DROP DEFAULT', sql: `ALTER TABLE ${t} ALTER COLUMN ${r} DROP DEFAULT` },
      { kind: 'DROP COLUMN', sql: `ALTER TABLE ${t} DROP COLUMN ${r}` },
    );
  }
  return out.slice(0, count);
}

async function newDatabase(cluster: BenchCluster, name: string, pggit: boolean): Promise<string> {
  await cluster.admin(`CREATE DATABASE ${name}`);
  if (pggit) await installPggit(cluster, name);
  return name;
}

async function main(): Promise<void> {
  const schema = splitStatements(readFileSync(path.join(pagilaDir, 'schema.sql'), 'utf8'));
  const alters = alterMix(ALTER_STATEMENTS, 'bench');
  await withCluster(async (cluster) => {
    console.log(`ddl-tracking: durable PostgreSQL cluster on 127.0.0.1:${cluster.port}; A = without pggit, B = with pggit`);

    // (a) Pagila schema into fresh databases, alternating A/B.
    console.log(`\n(a) Pagila schema (${schema.length} statements, one transaction each, one connection), ${SCHEMA_REPETITIONS} loads per side, alternating A/B`);
    const loads: Record<'A' | 'B', number[]> = { A: [], B: [] };
    const perStatement: Record<'A' | 'B', number[]> = { A: schema.map(() => 0), B: schema.map(() => 0) };
    let last: Record<'A' | 'B', string> = { A: '', B: '' };
    for (let rep = 1; rep <= SCHEMA_REPETITIONS; rep++) {
      for (const side of ['A', 'B'] as const) {
        const db = await newDatabase(cluster, `schema_${side.toLowerCase()}${rep}`, side === 'B');
        const { ms: took } = await withClient(cluster, db, (client) =>
          timed(async () => {
            for (const [i, statement] of schema.entries()) {
              const took = (await timed(() => client.query(statement))).ms;
              perStatement[side][i] = perStatement[side][i]! + took;
            }
          }),
        );
        loads[side].push(took);
        last = { ...last, [side]: db };
        console.log(`  load ${rep} ${side}: ${ms(took)}`);
      }
    }
    const schemaRatio = median(loads.B) / median(loads.A);
    console.log(`  median A (no pggit): ${ms(median(loads.A))}   median B (pggit): ${ms(median(loads.B))}   ratio B/A: ${ratio(schemaRatio)}`);
    console.log('  where B spends its extra time (mean per load, by statement kind):');
    console.log('  kind                          count   A (no pggit)   B (pggit)   B - A');
    const kinds = new Map<string, { count: number; a: number; b: number }>();
    for (const [i, statement] of schema.entries()) {
      const kind = statementKind(statement);
      const k = kinds.get(kind) ?? { count: 0, a: 0, b: 0 };
      kinds.set(kind, { count: k.count + 1, a: k.a + perStatement.A[i]! / SCHEMA_REPETITIONS, b: k.b + perStatement.B[i]! / SCHEMA_REPETITIONS });
    }
    for (const [kind, k] of [...kinds].sort((x, y) => y[1].b - y[1].a - (x[1].b - x[1].a)).slice(0, 8)) {
      console.log(`  ${kind.padEnd(28)} ${String(k.count).padStart(6)} ${ms(k.a).padStart(14)} ${ms(k.b).padStart(11)} ${ms(k.b - k.a).padStart(9)}`);
    }

    // (b) ALTER TABLE on the last loaded pair, after Pagila's data (untimed).
    for (const db of [last.A, last.B]) await loadPagila(cluster.url(db), ['data']);
    await cluster.admin('CHECKPOINT');
    console.log(`\n(b) ${alters.length} ALTER TABLE statements on customer, film, rental, address (with Pagila's data), autocommit, interleaved A/B`);
    const times: Record<'A' | 'B', number[]> = { A: [], B: [] };
    const a = await cluster.connect(last.A);
    const b = await cluster.connect(last.B);
    try {
      for (const [i, alter] of alters.entries()) {
        // Alternate which side goes first, so neither always finds the disk freshly flushed.
        for (const side of i % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
          const client = side === 'A' ? a : b;
          times[side].push((await timed(() => client.query(alter.sql))).ms);
        }
      }
    } finally {
      await a.end();
      await b.end();
    }
    for (const side of ['A', 'B'] as const) {
      const t = times[side];
      console.log(`  ${side} ${side === 'A' ? '(no pggit)' : '(pggit)   '}: total ${ms(sum(t))}   p50 ${ms(percentile(t, 50))}   p95 ${ms(percentile(t, 95))}   max ${ms(Math.max(...t))}`);
    }
    const alterRatio = sum(times.B) / sum(times.A);
    console.log(`  ratio B/A: total ${ratio(alterRatio)}   p50 ${ratio(percentile(times.B, 50) / percentile(times.A, 50))}   p95 ${ratio(percentile(times.B, 95) / percentile(times.A, 95))}`);
    console.log(`  tracking adds ${ms((sum(times.B) - sum(times.A)) / alters.length)} per statement on average`);
    console.log('  median per kind           A (no pggit)   B (pggit)    B/A');
    for (const kind of [...new Set(alters.map((x) => x.kind))]) {
      const idx = alters.flatMap((x, i) => (x.kind === kind ? [i] : []));
      const [ka, kb] = [median(idx.map((i) => times.A[i]!)), median(idx.map((i) => times.B[i]!))];
      console.log(`  ${kind.padEnd(24)}  ${ms(ka).padStart(12)}  ${ms(kb).padStart(10)}  ${ratio(kb / ka).padStart(6)}`);
    }
    const checks = await withClient(cluster, last.B, (client) =>
      client.query<{ history: string; errors: string }>(
        `SELECT (SELECT count(*) FROM pggit.history) AS history, (SELECT count(*) FROM pggit.tracking_errors) AS errors`,
      ),
    );
    console.log(`  B recorded ${checks.rows[0]!.history} history rows, ${checks.rows[0]!.errors} tracking errors`);

    const met = schemaRatio <= TARGET && alterRatio <= TARGET;
    console.log(`\nTarget (tracked DDL at most ${TARGET}x untracked): schema load ${ratio(schemaRatio)} ${schemaRatio <= TARGET ? 'MET' : 'NOT MET'}; ALTER TABLE ${ratio(alterRatio)} ${alterRatio <= TARGET ? 'MET' : 'NOT MET'}`);
    console.log(met ? 'TARGET MET' : 'TARGET NOT MET');
    if (!met) await profile(cluster, last.B);
  });
}

/** Where tracking time goes: pggit's functions under track_functions = 'all' for more ALTERs on B. */
async function profile(cluster: BenchCluster, database: string): Promise<void> {
  await withClient(cluster, database, async (client) => {
    await client.query(`SET track_functions = 'all'`);
    await client.query('SELECT pg_stat_reset()');
    for (const alter of alterMix(PROFILE_STATEMENTS, 'prof')) await client.query(alter.sql);
  });
  // The profiled backend has exited, so its function statistics are flushed.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const { rows } = await withClient(cluster, database, (client) =>
    client.query<{ fn: string; calls: string; total: number; self: number; per_stmt: number }>(
      `SELECT funcname AS fn, calls, total_time AS total, self_time AS self, total_time / $1 AS per_stmt
         FROM pg_stat_user_functions WHERE schemaname = 'pggit' ORDER BY self_time DESC LIMIT 12`,
      [PROFILE_STATEMENTS],
    ),
  );
  console.log(`\nProfile: pggit functions over ${PROFILE_STATEMENTS} more ALTER TABLE on B (track_functions = 'all'; SQL functions that get inlined do not appear)`);
  console.log('  function                        calls   total ms    self ms   total ms per ALTER');
  for (const r of rows) {
    console.log(`  ${r.fn.padEnd(28)} ${String(r.calls).padStart(8)} ${r.total.toFixed(1).padStart(10)} ${r.self.toFixed(1).padStart(10)} ${r.per_stmt.toFixed(2).padStart(12)}`);
  }
}

runBench('ddl-tracking', main);
