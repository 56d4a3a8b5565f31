import type { ColumnDef } from 'libpg-query';
import { as, strings, typeName, walk } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { columnSubject, existingTableCommands, locationOr, SERIAL_TYPES } from './support.ts';

/**
 * Functions known not to be volatile. Since PostgreSQL 11, ADD COLUMN with a non-volatile default
 * stores the value once in the catalog; any other function might be volatile (the parser cannot see
 * pg_proc.provolatile), so it is reported as a rewrite.
 */
const NON_VOLATILE = new Set([
  'now', 'transaction_timestamp', 'statement_timestamp', 'current_setting', 'lower', 'upper', 'length',
  'concat', 'coalesce', 'make_date', 'make_timestamp', 'make_timestamptz', 'make_interval', 'to_timestamp',
  'to_date', 'to_char', 'jsonb_build_object', 'jsonb_build_array', 'json_build_object', 'json_build_array',
]);

/** Why adding this column rewrites the table, or null when it does not. */
function rewriteCause(column: ColumnDef): string | null {
  if (SERIAL_TYPES.has(typeName(column.typeName))) return `a ${typeName(column.typeName)} column fills every row from a sequence`;
  for (const c of column.constraints ?? []) {
    const constraint = as(c, 'Constraint');
    if (constraint?.contype === 'CONSTR_IDENTITY') return 'an identity column fills every row from a sequence';
    if (constraint?.contype === 'CONSTR_GENERATED') return 'a stored generated column is computed for every row';
    if (constraint?.contype !== 'CONSTR_DEFAULT') continue;
    const called: string[] = [];
    walk(constraint.raw_expr, (type, fields) => {
      if (type === 'FuncCall') called.push(strings((fields as { funcname?: [] }).funcname).at(-1)!.toLowerCase());
    });
    const volatile = called.find((name) => !NON_VOLATILE.has(name));
    if (volatile) return `the default calls ${volatile}(), which may be volatile`;
  }
  return null;
}

export const rule: Rule = {
  id: 'adding-field-with-volatile-default',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message:
    'Adding a column whose default is volatile (or an identity, serial or stored generated column) rewrites the whole table ' +
    'under an ACCESS EXCLUSIVE lock: every read and write of the table waits until the rewrite ends.',
  alternative:
    'Add the column without a default (or with a constant one), set the default in a separate ALTER, and backfill ' +
    'existing rows in small batches.',
  start: eachStatement((statement, state) =>
    existingTableCommands(statement.node, state).flatMap(({ table, cmd }) => {
      const column = as(cmd.def, 'ColumnDef');
      const cause = cmd.subtype === 'AT_AddColumn' && column ? rewriteCause(column) : null;
      return cause && column ? [{ at: locationOr(column.location, statement), subject: `${columnSubject(table, column.colname)} (${cause})` }] : [];
    }),
  ),
};
