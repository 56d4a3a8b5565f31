// Every rule against its own fixtures (risk/rules/fixtures/<rule-id>/): bad.sql must fire exactly at
// the positions its "-- expect: LINE:COLUMN" comments give, good.sql must not fire at all.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeStatically } from '../../risk/analyze.ts';
import { loadParser, parseMigration } from '../../risk/parse.ts';
import { rules } from '../../risk/rules/index.ts';
import { projectRoot } from '../../worker/tools.ts';

const fixtures = path.join(projectRoot, 'risk/rules/fixtures');
const EXPECT = '-- expect: ';

const read = (rule: string, name: 'bad.sql' | 'good.sql') => readFileSync(path.join(fixtures, rule, name), 'utf8');

/** "LINE:COLUMN" of each `-- expect:` comment, in file order. */
const expectedPositions = (sql: string) => sql.split('\n').filter((l) => l.startsWith(EXPECT)).map((l) => l.slice(EXPECT.length).trim());

beforeAll(() => loadParser());

describe('rule fixtures', () => {
  it('every rule has fixtures and every fixture folder a rule', () => {
    expect(readdirSync(fixtures).sort()).toEqual(rules.map((r) => r.id).sort());
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
  });

  for (const rule of rules) {
    describe(rule.id, () => {
      it('fires on bad.sql at the expected lines and columns', () => {
        const sql = read(rule.id, 'bad.sql');
        const expected = expectedPositions(sql);
        expect(expected.length).toBeGreaterThan(0);
        const findings = analyzeStatically(parseMigration(sql), [rule]);
        expect(findings.map((f) => `${f.line}:${f.column}`)).toEqual(expected);
        for (const f of findings) {
          expect(f).toMatchObject({ rule: rule.id, severity: rule.severity, source: 'static', alternative: rule.alternative });
          expect(f.message).toContain(rule.message);
        }
      });

      it('stays quiet on good.sql', () => {
        expect(analyzeStatically(parseMigration(read(rule.id, 'good.sql')), [rule])).toEqual([]);
      });
    });
  }
});
