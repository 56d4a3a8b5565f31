// `pggit-ops risk` and `pggit-ops cicd generate` as CI runs them: the real CLI (node cli/bin.mjs),
// its JSON, its exit codes, hostile file names and hostile SQL. No database: static analysis only.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderPipeline } from '../../cicd/pipelines.ts';
import { projectRoot } from '../../worker/tools.ts';

const cli = (args: string[]) => execa('node', [path.join(projectRoot, 'cli/bin.mjs'), ...args], { reject: false, cwd: dir, stripFinalNewline: false });

let dir: string;
const file = (name: string, sql: string) => {
  writeFileSync(path.join(dir, name), sql);
  return name;
};

interface JsonFinding { rule: string; line: number; column: number; severity: string; message: string; lock: string | null; alternative: string }
interface JsonReport { file: string; score: number; findings: JsonFinding[]; over: boolean; maxRisk: number }

const SAFE_PREAMBLE = "SET lock_timeout = '2s';\nSET statement_timeout = '1min';\n";

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-risk-cli-'));
});

describe('pggit-ops risk', () => {
  it('reports every file as {file, score, findings[{rule, line, column, severity, message}]} and exits 1 when one is over --max-risk', async () => {
    const risky = file('010 drop "legacy" ünï\'s.sql', `${SAFE_PREAMBLE}ALTER TABLE users DROP COLUMN IF EXISTS legacy;\n`);
    const safe = file('-011_safe.sql', `${SAFE_PREAMBLE}ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text;\n`);

    const run = await cli(['risk', '--json', '--', risky, safe]);

    expect(run.exitCode, run.stderr).toBe(1);
    const reports = JSON.parse(run.stdout) as JsonReport[];
    expect(reports.map((r) => [r.file, r.score, r.over])).toEqual([[risky, 60, true], [safe, 0, false]]);
    expect(reports[0]!.findings).toEqual([
      expect.objectContaining({ rule: 'dropping-column', line: 3, column: 1, severity: 'critical', lock: 'AccessExclusiveLock', message: expect.stringContaining('users.legacy') }),
    ]);
    expect(reports[0]!.findings[0]!.alternative).toContain('Expand and contract');
  });

  it('exits 0 when every file is within the limit, and a higher --max-risk lets a risky file pass', async () => {
    const risky = file('drop.sql', `${SAFE_PREAMBLE}ALTER TABLE users DROP COLUMN IF EXISTS legacy;\n`);
    expect((await cli(['risk', '--max-risk', '59', risky])).exitCode).toBe(1);
    expect((await cli(['risk', '--max-risk', '60', risky])).exitCode).toBe(0);
  });

  it('prints a readable table per file', async () => {
    const run = await cli(['risk', file('human.sql', 'CREATE INDEX orders_user_idx ON orders (user_id);\n')]);
    expect(run.stdout).toContain('human.sql: risk 30/100, within the limit of 50');
    expect(run.stdout).toMatch(/at\s+severity\s+rule\s+lock/);
    expect(run.stdout).toMatch(/1:1\s+high\s+require-concurrent-index-creation\s+ShareLock/);
    expect(run.stdout).toContain('safer: CREATE INDEX CONCURRENTLY');
  });

  it('exits 2 on unparsable input, naming file:line:col and the parser message', async () => {
    const broken = file('broken é.sql', "-- ünïcode comment\nSELECT 'ü' || ;\n");
    const fine = file('fine.sql', 'SELECT 1;\n');
    const run = await cli(['risk', '--json', broken, fine]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`${broken}:2:15: syntax error at or near ";"`);
    const reports = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    expect(reports[0]).toEqual({ file: broken, error: { message: 'syntax error at or near ";"', line: 2, column: 15 } });
    expect(reports[1]).toMatchObject({ file: fine, score: 0, findings: [] });
  });

  it('exits 2 on an unreadable file and on a bad --max-risk', async () => {
    const missing = await cli(['risk', 'no-such-file.sql']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('no-such-file.sql: cannot read:');
    const bad = await cli(['risk', '--max-risk', 'lots', file('x.sql', 'SELECT 1;')]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--max-risk must be an integer from 0 to 100, got "lots"');
  });

  it('scores empty files and files of only comments 0', async () => {
    const run = await cli(['risk', '--json', file('empty.sql', ''), file('comments.sql', '-- nothing\n/* still /* nested */ nothing */\n')]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as JsonReport[]).map((r) => [r.score, r.findings.length])).toEqual([[0, 0], [0, 0]]);
  });

  it('counts columns in characters, not bytes, after non-ASCII text on the same line', async () => {
    const sql = `${SAFE_PREAMBLE}SELECT 'été 😀'; ALTER TABLE users ALTER COLUMN email TYPE varchar(10);\n`;
    const run = await cli(['risk', '--json', file('unicode.sql', sql)]);
    const finding = (JSON.parse(run.stdout) as JsonReport[])[0]!.findings.find((f) => f.rule === 'changing-column-type')!;
    // "SELECT 'été 😀'; ALTER TABLE users ALTER COLUMN " is 47 characters (and 52 bytes): email is the 48th.
    expect([finding.line, finding.column]).toEqual([3, 48]);
  });

  it('reports identifiers PostgreSQL would truncate', async () => {
    const long = 'x'.repeat(64);
    const run = await cli(['risk', '--json', file('long.sql', `CREATE TABLE IF NOT EXISTS ${long} (id bigint);\n`)]);
    const findings = (JSON.parse(run.stdout) as JsonReport[])[0]!.findings;
    expect(findings).toEqual([expect.objectContaining({ rule: 'identifier-too-long', line: 1, column: 28, severity: 'medium' })]);
  });

  it('writes the same JSON to --report', async () => {
    const report = path.join(dir, 'report.json');
    const run = await cli(['risk', '--json', '--report', report, file('r.sql', 'DROP TABLE IF EXISTS t;')]);
    expect(JSON.parse(readFileSync(report, 'utf8'))).toEqual(JSON.parse(run.stdout));
  });
});

describe('pggit-ops cicd generate', () => {
  it('prints the pipeline of each platform, with the options filled in', async () => {
    for (const platform of ['github', 'jenkins'] as const) {
      const run = await cli(['cicd', 'generate', platform, '--migrations-dir', 'db/migrations', '--max-risk', '30']);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toBe(renderPipeline(platform, { migrationsDir: 'db/migrations', maxRisk: 30 }));
      expect(run.stdout).toContain('db/migrations');
    }
  });

  it('refuses an unknown platform and a migrations dir that could inject into the pipeline', async () => {
    const unknown = await cli(['cicd', 'generate', 'gitlab']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('unknown CI platform "gitlab": use github or jenkins');
    for (const bad of ['migrations"; rm -rf /', '../elsewhere', "it's"]) {
      const run = await cli(['cicd', 'generate', 'github', '--migrations-dir', bad]);
      expect(run.exitCode, bad).toBe(2);
      expect(run.stderr).toContain('migrations dir');
    }
  });
});
