import type { Node, RangeVar } from 'libpg-query';
import { as, relationName, strings, walk } from '../nodes.ts';
import type { ParsedStatement } from '../parse.ts';
import type { Checker, Rule } from '../rule.ts';
import type { MigrationState } from '../state.ts';
import { existingTableCommands } from './support.ts';

const tableOfNameList = (items: Node[] | undefined) => {
  const parts = strings(items);
  return { relname: parts.at(-1), schemaname: parts.length > 1 ? parts.at(-2) : undefined };
};

/** The existing table `statement` must lock (and may queue for), or null. */
function lockedTable(statement: ParsedStatement, state: MigrationState): string | null {
  const node = statement.node;
  const altered = existingTableCommands(node, state)[0];
  if (altered) return relationName(altered.table);
  const rangeVar = as(node, 'IndexStmt')?.relation ?? as(node, 'RenameStmt')?.relation ?? as(node, 'CreateTrigStmt')?.relation ?? as(node, 'ClusterStmt')?.relation;
  if (rangeVar && !state.isNewTable(rangeVar)) return relationName(rangeVar);
  const drop = as(node, 'DropStmt');
  if (drop?.removeType === 'OBJECT_TABLE' || drop?.removeType === 'OBJECT_INDEX') {
    const existing = (drop.objects ?? []).map((o) => as(o, 'List')?.items ?? []).find((name) => drop.removeType === 'OBJECT_TABLE' ? !state.isNewTable(tableOfNameList(name)) : !state.isNewIndex(name));
    if (existing) return strings(existing).join('.');
  }
  for (const r of [...(as(node, 'TruncateStmt')?.relations ?? []), ...(as(node, 'LockStmt')?.relations ?? [])]) {
    const rv = as(r, 'RangeVar');
    if (rv && !state.isNewTable(rv)) return relationName(rv);
  }
  // A new table's foreign key locks the referenced table (SHARE ROW EXCLUSIVE) against writes.
  let referenced: string | null = null;
  if (as(node, 'CreateStmt')) {
    walk(node, (type, fields) => {
      const pktable = type === 'Constraint' ? (fields as { pktable?: RangeVar }).pktable : undefined;
      if (!referenced && pktable && !state.isNewTable(pktable)) referenced = relationName(pktable);
    });
  }
  return referenced;
}

export const rule: Rule = {
  id: 'require-timeouts',
  severity: 'medium',
  lock: null,
  message:
    'A statement that locks an existing table runs without lock_timeout and statement_timeout: while it waits for the lock behind a ' +
    'long query, every other query on the table queues behind it, and a slow statement holds its lock with no bound.',
  alternative: "SET lock_timeout = '5s' and SET statement_timeout = '5min' (values to taste) at the top of the migration, and retry on timeout.",
  start: (): Checker => {
    let reported = false;
    return {
      // Reported once per file, at the first statement exposed: one missing SET is one mistake.
      statement(statement, state) {
        if (reported || (state.lockTimeout && state.statementTimeout)) return [];
        const table = lockedTable(statement, state);
        if (!table) return [];
        reported = true;
        const missing = [state.lockTimeout ? null : 'lock_timeout', state.statementTimeout ? null : 'statement_timeout'].filter(Boolean).join(' and ');
        return [{ at: statement.start, subject: `${table} locked with no ${missing}` }];
      },
    };
  },
};
