import { as, strings, typeName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { columnDefinitions, columnSubject, locationOr } from './support.ts';

/** Key types that run out: int4 at 2,147,483,647, int2 at 32,767 (serial types included). */
const SMALL_INTEGERS = new Set(['int4', 'int2', 'serial', 'serial4', 'smallserial', 'serial2']);

export const rule: Rule = {
  id: 'prefer-bigint-primary-key',
  severity: 'medium',
  lock: null,
  message: 'An int or smallint primary key can run out of values; widening it later rewrites the table and every table referencing it.',
  alternative: 'Use bigint (bigint GENERATED ALWAYS AS IDENTITY) for primary keys.',
  start: eachStatement((statement) => {
    // Key columns named in a table-level PRIMARY KEY (...) of CREATE TABLE.
    const tableKeys = new Set(
      (as(statement.node, 'CreateStmt')?.tableElts ?? []).flatMap((e) => {
        const c = as(e, 'Constraint');
        return c?.contype === 'CONSTR_PRIMARY' ? strings(c.keys) : [];
      }),
    );
    return columnDefinitions(statement.node)
      .filter(({ column }) => {
        const inline = (column.constraints ?? []).some((c) => as(c, 'Constraint')?.contype === 'CONSTR_PRIMARY');
        return (inline || tableKeys.has(column.colname ?? '')) && SMALL_INTEGERS.has(typeName(column.typeName));
      })
      .map(({ table, column }) => ({ at: locationOr(column.typeName?.location, statement), subject: columnSubject(table, column.colname) }));
  }),
};
