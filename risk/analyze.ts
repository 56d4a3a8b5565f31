// Static analysis: runs every rule over a parsed migration, statement by statement, keeping the
// migration's state (new tables, open transaction, timeouts) up to date between statements.
import type { ParsedMigration } from './parse.ts';
import type { Finding, Hit, RuleInfo, Severity } from './rule.ts';
import { rules as allRules } from './rules/index.ts';
import type { SourceText } from './source.ts';
import { MigrationState } from './state.ts';

/** A Finding for `hit` of `info`, positioned in `source`. */
export function toFinding(
  info: RuleInfo,
  hit: Hit,
  source: SourceText,
  statement: number | null,
  origin: Finding['source'],
  severity: Severity = info.severity,
): Finding {
  const { line, column } = source.position(hit.at);
  return {
    rule: info.id,
    line,
    column,
    severity,
    lock: hit.lock ?? info.lock,
    message: hit.subject ? `${hit.subject}: ${info.message}` : info.message,
    alternative: info.alternative,
    statement,
    source: origin,
  };
}

/** Findings ordered by position, then rule id: the same input always gives the same list. */
export const byPosition = (a: Finding, b: Finding) => a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule);

export function analyzeStatically(migration: ParsedMigration, rules = allRules): Finding[] {
  const { source, statements } = migration;
  const checkers = rules.map((rule) => ({ rule, checker: rule.start(source) }));
  const state = new MigrationState();
  const findings: Finding[] = [];
  for (const statement of statements) {
    for (const { rule, checker } of checkers) {
      for (const hit of checker.statement(statement, state)) findings.push(toFinding(rule, hit, source, statement.index, 'static'));
    }
    state.apply(statement);
  }
  for (const { rule, checker } of checkers) {
    for (const hit of checker.end?.(state) ?? []) findings.push(toFinding(rule, hit, source, null, 'static'));
  }
  return findings.sort(byPosition);
}
