// Property-based hostile input (fast-check): random text and mutations of real inputs, fed to the
// runbook loader and the migration risk analyzer. Each answers with a result or its own clear
// error (naming the file, and the line and column where there is one); nothing else escapes.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { allChecks } from '../activities/checks/index.ts';
import { analyzeStatically } from '../risk/analyze.ts';
import { loadParser, parseMigration, SqlSyntaxError } from '../risk/parse.ts';
import { riskScore } from '../risk/score.ts';
import { parseRunbook, RunbookError } from '../runbooks/loader.ts';
import { projectRoot } from '../worker/tools.ts';

const runs = Number(process.env.PGGIT_OPS_PROPERTY_RUNS ?? 300);
const people = { users: { alice: {}, bob: {}, carol: {} }, groups: { dba: ['alice', 'bob'], security: ['carol'] } };

/** Text with one of: a character deleted, inserted or replaced, a slice duplicated or moved, a line dropped. */
function mutated(texts: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('delete', 'insert', 'replace', 'duplicate', 'drop-line', 'truncate'), fc.string({ unit: 'grapheme', maxLength: 8 }));
  return fc.tuple(fc.constantFrom(...texts), fc.array(edit, { minLength: 1, maxLength: 6 })).map(([text, edits]) =>
    edits.reduce((t, [a, b, kind, piece]) => {
      const i = t.length === 0 ? 0 : a % t.length;
      const j = t.length === 0 ? 0 : b % t.length;
      switch (kind) {
        case 'delete': return t.slice(0, i) + t.slice(i + 1);
        case 'insert': return t.slice(0, i) + piece + t.slice(i);
        case 'replace': return t.slice(0, i) + piece + t.slice(i + piece.length);
        case 'duplicate': return t.slice(0, Math.max(i, j)) + t.slice(Math.min(i, j), Math.max(i, j)) + t.slice(Math.max(i, j));
        case 'drop-line': { const lines = t.split('\n'); lines.splice(i % Math.max(lines.length, 1), 1); return lines.join('\n'); }
        default: return t.slice(0, i);
      }
    }, text),
  );
}

describe('runbook loader', () => {
  const dir = path.join(projectRoot, 'runbooks');
  const shipped = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(path.join(dir, f), 'utf8'));

  /** Loads `text` as `hostile.yaml`: a runbook, or a RunbookError whose every issue names the file. */
  function load(text: string): void {
    try {
      const runbook = parseRunbook(text, 'hostile.yaml', { checks: allChecks, people });
      expect(runbook.steps.length).toBeGreaterThan(0);
    } catch (err) {
      if (!(err instanceof RunbookError)) throw err;
      expect(err.message.startsWith('hostile.yaml')).toBe(true);
      expect(err.issues.length).toBeGreaterThan(0);
      for (const issue of err.issues) {
        expect(issue.file).toBe('hostile.yaml');
        expect(issue.message.length).toBeGreaterThan(0);
      }
    }
  }

  it('answers random text with a runbook or a clear error', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), load), { numRuns: runs });
  });

  it('answers random YAML documents (any shape of mappings, lists and scalars) the same way', () => {
    const yamlish = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v));   // JSON is YAML
    fc.assert(fc.property(yamlish, load), { numRuns: runs });
  });

  it('answers every mutation of the shipped runbooks the same way', () => {
    expect(shipped.length).toBeGreaterThanOrEqual(6);
    fc.assert(fc.property(mutated(shipped), load), { numRuns: runs });
  });
});

describe('migration risk analyzer', () => {
  const fixtures = path.join(projectRoot, 'risk', 'rules', 'fixtures');
  const sql = readdirSync(fixtures).flatMap((rule) => ['bad.sql', 'good.sql'].map((f) => readFileSync(path.join(fixtures, rule, f), 'utf8')));
  beforeAll(() => loadParser());

  /** A score from 0 to 100 and findings inside the text, or a syntax error with a position inside the text. */
  function analyze(text: string): void {
    try {
      const migration = parseMigration(text);
      const findings = analyzeStatically(migration);
      const lines = text.split('\n').length;
      for (const f of findings) {
        expect(f.line).toBeGreaterThanOrEqual(1);
        expect(f.line).toBeLessThanOrEqual(lines);
        expect(f.column).toBeGreaterThanOrEqual(1);
        expect(f.message.length).toBeGreaterThan(0);
      }
      const score = riskScore(findings);
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThanOrEqual(100);
    } catch (err) {
      if (!(err instanceof SqlSyntaxError)) throw err;
      expect(err.position.line).toBeGreaterThanOrEqual(1);
      expect(err.position.line).toBeLessThanOrEqual(text.split('\n').length);
      expect(err.reason.length).toBeGreaterThan(0);
    }
  }

  it('answers random text with a score or a positioned syntax error', () => {
    // Found by this property: text that JavaScript's trim() empties but PostgreSQL does not.
    const examples: Array<[string]> = [['\u00a0'], ['-- c\n\u2028'], ['\ufeff']];
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), analyze), { numRuns: runs, examples });
  });

  it('answers every mutation of the rules\' fixtures the same way', () => {
    expect(sql.length).toBeGreaterThanOrEqual(50);
    fc.assert(fc.property(mutated(sql), analyze), { numRuns: runs });
  });
});
