// Static risk analyzer throughput: one generated migration of 10,000 statements (BENCH_RISK_STATEMENTS)
// parsed by libpg_query and checked by every rule, measured once. No database is involved.
import { analyzeStatically } from '../risk/analyze.ts';
import { loadParser, parseMigration } from '../risk/parse.ts';
import { rules } from '../risk/rules/index.ts';
import { riskScore } from '../risk/score.ts';

const statements = Number(process.env.BENCH_RISK_STATEMENTS ?? 10_000);

/** A mix of what migrations contain, risky and safe, on existing and new tables, some non-ASCII. */
const kinds = [
  (i: number) => `CREATE TABLE IF NOT EXISTS t${i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text, created timestamptz DEFAULT now());`,
  (i: number) => `ALTER TABLE t${i - 1} ADD COLUMN IF NOT EXISTS token uuid DEFAULT gen_random_uuid();`,
  (i: number) => `ALTER TABLE users_${i % 50} ADD COLUMN IF NOT EXISTS "libellé_${i}" text;`,
  (i: number) => `CREATE INDEX CONCURRENTLY IF NOT EXISTS users_${i % 50}_idx_${i} ON users_${i % 50} (email, created_at);`,
  (i: number) => `ALTER TABLE orders_${i % 50} ADD CONSTRAINT orders_fk_${i} FOREIGN KEY (user_id) REFERENCES users_${i % 50} (id) NOT VALID;`,
  (i: number) => `ALTER TABLE orders_${i % 50} ALTER COLUMN total TYPE numeric(14, 2);`,
  (i: number) => `UPDATE users_${i % 50} SET name = lower(name) WHERE id BETWEEN ${i} AND ${i + 1000} AND name <> 'é';`,
  (i: number) => `-- step ${i}\nSET lock_timeout = '2s';`,
  (i: number) => `CREATE OR REPLACE VIEW v${i} AS SELECT u.id, count(o.id) FROM users_${i % 50} u LEFT JOIN orders_${i % 50} o ON o.user_id = u.id GROUP BY u.id;`,
  (i: number) => `ALTER TABLE users_${i % 50} RENAME COLUMN nick_${i} TO nickname_${i};`,
];

const sql = Array.from({ length: statements }, (_, i) => kinds[i % kinds.length]!(i)).join('\n');

await loadParser();
const started = performance.now();
const migration = parseMigration(sql);
const parsed = performance.now();
const findings = analyzeStatically(migration);
const score = riskScore(findings);
const done = performance.now();

const seconds = (done - started) / 1000;
console.log(`risk analyzer: ${migration.statements.length} statements, ${(Buffer.byteLength(sql) / 1024).toFixed(0)} KiB, ${rules.length} rules`);
console.log(`  parse ${(parsed - started).toFixed(0)} ms, rules ${(done - parsed).toFixed(0)} ms, total ${(seconds * 1000).toFixed(0)} ms`);
console.log(`  ${findings.length} findings, score ${score}`);
console.log(`  throughput: ${Math.round(migration.statements.length / seconds).toLocaleString('en-US')} statements/s`);
