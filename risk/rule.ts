// What a rule is and what it reports. Rules live one per file in rules/, each with its fixtures.
import type { ParsedStatement } from './parse.ts';
import type { SourceText } from './source.ts';
import type { MigrationState } from './state.ts';

export const severities = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof severities)[number];

/** PostgreSQL's table-level lock modes (docs, "Explicit Locking"), in pg_locks' spelling. */
export type LockMode =
  | 'AccessShareLock' | 'RowShareLock' | 'RowExclusiveLock' | 'ShareUpdateExclusiveLock'
  | 'ShareLock' | 'ShareRowExclusiveLock' | 'ExclusiveLock' | 'AccessExclusiveLock';

/** Where a rule fired: a byte offset into the file, and what it is about (table, column, ...). */
export interface Hit {
  at: number;
  subject?: string;
  /** The lock this occurrence takes, when it differs from the rule's usual one. */
  lock?: LockMode;
}

/** Checks one file's statements in order; made fresh per file, so it may remember what it saw. */
export interface Checker {
  /** Called for each statement with the state before the statement runs. */
  statement(statement: ParsedStatement, state: MigrationState): Hit[];
  /** Called once after the last statement. */
  end?(state: MigrationState): Hit[];
}

/** What a kind of finding is about; static rules and the measured kinds (measure.ts) both have one. */
export interface RuleInfo {
  id: string;
  severity: Severity;
  /** The lock the flagged statement takes on the table, or null when locking is not the problem. */
  lock: LockMode | null;
  /** What goes wrong, in plain words. */
  message: string;
  /** The safer way to get the same result. */
  alternative: string;
}

export interface Rule extends RuleInfo {
  /** A checker for one file (rules that read the text itself, not only the parse tree, use `source`). */
  start(source: SourceText): Checker;
}

/** A checker for rules that judge each statement on its own. */
export const eachStatement = (check: Checker['statement']) => (): Checker => ({ statement: check });

export interface Finding {
  rule: string;
  line: number;
  column: number;
  severity: Severity;
  lock: LockMode | null;
  message: string;
  alternative: string;
  /** 0-based index of the statement in the file; null for findings about the whole file. */
  statement: number | null;
  /** "static": from the parse tree; "measured": seen running the migration on a database. */
  source: 'static' | 'measured';
}
