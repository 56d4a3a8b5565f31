// Dynamic analysis: runs a migration on a real database (a CI or staging copy, never production)
// inside one transaction that is always rolled back, statement by statement, and reports what
// actually happened: the locks each statement took on tables that existed before (pg_locks of this
// backend) and the tables it rewrote (their relfilenode changed), with their row counts.
import pg from 'pg';
import { clientConfigOfUrl } from '../activities/targets.ts';
import { toFinding } from './analyze.ts';
import { nodeType } from './nodes.ts';
import type { ParsedMigration, ParsedStatement } from './parse.ts';
import type { Finding, LockMode, RuleInfo, Severity } from './rule.ts';
import { SourceText } from './source.ts';
import { transactionBlockRefusal } from './transactions.ts';

/** Kinds of measured findings, described like the static rules. */
export const measuredKinds = {
  tableRewrite: {
    id: 'table-rewrite',
    severity: 'high',
    lock: 'AccessExclusiveLock',
    message: 'The statement rewrote the table (its data file was replaced) while holding an ACCESS EXCLUSIVE lock; the time grows with the table.',
    alternative: 'See the static findings on this statement for a way that does not rewrite; otherwise run it in a maintenance window.',
  },
  accessExclusiveLock: {
    id: 'access-exclusive-lock',
    severity: 'medium',
    lock: 'AccessExclusiveLock',
    message: 'The statement took an ACCESS EXCLUSIVE lock on a table that already existed: every query on it waits until the migration commits.',
    alternative: 'Keep the transaction short, set lock_timeout, and prefer forms with weaker locks (NOT VALID, CONCURRENTLY).',
  },
  migrationFails: {
    id: 'migration-fails',
    severity: 'critical',
    lock: null,
    message: 'The migration fails on this database at this statement; deployed as is, it would fail the same way.',
    alternative: 'Fix the statement (the error is quoted) and run the analysis again.',
  },
  notMeasured: {
    id: 'not-measured',
    severity: 'info',
    lock: null,
    message: 'Not run by the analysis, so its locks and rewrites are not measured.',
    alternative: 'Review it by hand, or measure it on a staging copy outside a transaction.',
  },
} as const satisfies Record<string, RuleInfo>;

/** Rewrites of tables at least this big are critical: they take minutes and block everything. */
const LARGE_TABLE_ROWS = 1_000_000;

export interface MeasuredStatement {
  statement: number;
  line: number;
  column: number;
  /** Locks the statement took on tables that existed before the migration. */
  locks: Array<{ table: string; mode: LockMode }>;
  rewrites: Array<{ table: string; rows: number }>;
}

export interface Measurement {
  findings: Finding[];
  statements: MeasuredStatement[];
}

interface Relation {
  oid: string;
  /** As reported: schema-qualified only when not on the search_path the session started with. */
  name: string;
  /** For queries: the migration may change search_path, and `name` then mean another table. */
  qualified: string;
  relfilenode: string;
  reltuples: number;
}

const relationsQuery = `
  SELECT c.oid::text AS oid, c.oid::regclass::text AS name, format('%I.%I', n.nspname, c.relname) AS qualified,
         c.relfilenode::text AS relfilenode, c.reltuples::float8 AS reltuples
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'm') AND c.oid >= 16384`; // 16384 = FirstNormalObjectId: user relations only

const locksQuery = `
  SELECT l.relation::text AS oid, l.mode
    FROM pg_locks l
   WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND l.relation >= 16384`;

const skippedSilently = (statement: ParsedStatement) => nodeType(statement.node) === 'TransactionStmt';

/** What is going to be measured in one database session; files are measured in order, their effects kept until the end. */
export class MeasurementSession {
  private constructor(private readonly client: pg.Client) {}

  /** Connects and opens the transaction; `lockWait` bounds how long a statement may wait for a lock (e.g. '5s'). */
  static async open(databaseUrl: string, lockWait: string): Promise<MeasurementSession> {
    const client = new pg.Client({ application_name: 'pggit-ops risk', ...clientConfigOfUrl(databaseUrl) });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [lockWait]);
    } catch (err) {
      await client.end();
      throw err;
    }
    return new MeasurementSession(client);
  }

  /** Always rolls back and disconnects: the session's sequences advanced, nothing else is left. */
  async close(): Promise<void> {
    await this.client.query('ROLLBACK').catch(() => undefined);
    await this.client.end();
  }

  async measure(migration: ParsedMigration): Promise<Measurement> {
    const { source } = migration;
    const findings: Finding[] = [];
    const statements: MeasuredStatement[] = [];
    const before = new Map((await this.client.query<Relation>(relationsQuery)).rows.map((r) => [r.oid, r]));
    const relfilenodes = new Map([...before].map(([oid, r]) => [oid, r.relfilenode]));
    let held = await this.heldLocks();
    let skipped = false;
    await this.client.query('SAVEPOINT pggit_ops_risk_file');
    for (const statement of migration.statements) {
      if (skippedSilently(statement)) continue;
      const refused = transactionBlockRefusal(statement.node);
      if (refused) {
        // Run outside a transaction it would be real; leaving it out is the only safe choice.
        findings.push(toFinding(measuredKinds.notMeasured, { at: statement.start, subject: `${refused} cannot run inside the analysis transaction` }, source, statement.index, 'measured'));
        skipped = true;
        continue;
      }
      try {
        await this.client.query(source.slice(statement.start, statement.end));
      } catch (err) {
        if (!(err instanceof pg.DatabaseError)) throw err;
        await this.client.query('ROLLBACK TO SAVEPOINT pggit_ops_risk_file');
        findings.push(failure(err, statement, source, skipped));
        break;
      }
      const locks = (await this.heldLocks()).filter((l) => before.has(l.oid) && !held.some((h) => h.oid === l.oid && h.mode === l.mode));
      held = [...held, ...locks];
      const rewrites = await this.rewrites(before, relfilenodes);
      const { line, column } = source.position(statement.start);
      statements.push({
        statement: statement.index, line, column,
        locks: locks.map((l) => ({ table: before.get(l.oid)!.name, mode: l.mode })),
        rewrites,
      });
      for (const r of rewrites) {
        findings.push(toFinding(measuredKinds.tableRewrite, { at: statement.start, subject: `${r.table} (${r.rows} rows)` }, source, statement.index, 'measured', rewriteSeverity(r.rows)));
      }
      for (const l of locks.filter((l) => l.mode === 'AccessExclusiveLock')) {
        findings.push(toFinding(measuredKinds.accessExclusiveLock, { at: statement.start, subject: before.get(l.oid)!.name }, source, statement.index, 'measured'));
      }
    }
    return { findings, statements };
  }

  private async heldLocks(): Promise<Array<{ oid: string; mode: LockMode }>> {
    return (await this.client.query<{ oid: string; mode: LockMode }>(locksQuery)).rows;
  }

  /** Tables whose data file changed since the last look, with their rows; updates `relfilenodes`. */
  private async rewrites(before: Map<string, Relation>, relfilenodes: Map<string, string>): Promise<Array<{ table: string; rows: number }>> {
    const { rows } = await this.client.query<{ oid: string; relfilenode: string }>(
      'SELECT oid::text AS oid, relfilenode::text AS relfilenode FROM pg_class WHERE oid = ANY($1::oid[])', [[...before.keys()]]);
    const rewritten: Array<{ table: string; rows: number }> = [];
    for (const r of rows) {
      if (relfilenodes.get(r.oid) === r.relfilenode) continue;
      relfilenodes.set(r.oid, r.relfilenode);
      const relation = before.get(r.oid)!;
      rewritten.push({ table: relation.name, rows: await this.rowCount(relation) });
    }
    return rewritten.sort((a, b) => a.table.localeCompare(b.table));
  }

  /** The planner's estimate when the table was ever analyzed (reltuples >= 0), else an exact count. */
  private async rowCount(relation: Relation): Promise<number> {
    if (relation.reltuples >= 0) return Math.round(relation.reltuples);
    const { rows } = await this.client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${relation.qualified}`);
    return Number(rows[0]!.n);
  }
}

function rewriteSeverity(rows: number): Severity {
  if (rows >= LARGE_TABLE_ROWS) return 'critical';
  return rows > 0 ? 'high' : 'low';
}

/** The failure as a finding at the error's own position when PostgreSQL gives one. */
function failure(err: pg.DatabaseError, statement: ParsedStatement, source: SourceText, skippedBefore: boolean): Finding {
  // The position counts characters (1-based) in the statement's text as sent.
  const text = new SourceText(source.slice(statement.start, statement.end));
  const at = err.position ? statement.start + text.byteOffsetOfCharacter(Number(err.position) - 1) : statement.start;
  // Lock waits on a busy staging table, and failures after a skipped statement (which may have
  // created what this one needs), say nothing certain about the migration itself.
  const uncertain = skippedBefore || err.code === '55P03';
  const kind = uncertain ? measuredKinds.notMeasured : measuredKinds.migrationFails;
  return toFinding(kind, { at, subject: `${err.message} (SQLSTATE ${err.code})` }, source, statement.index, 'measured');
}

