import { typeName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { columnDefinitions, columnSubject, locationOr } from './support.ts';

export const rule: Rule = {
  id: 'prefer-text-over-char',
  severity: 'low',
  lock: null,
  message: 'char(n) pads values with spaces, compares ignoring them and is no faster than text; widening it later rewrites the table.',
  alternative: 'Use text (or varchar) with a CHECK (length(col) <= n) constraint if the length must be limited.',
  start: eachStatement((statement) =>
    columnDefinitions(statement.node)
      // bpchar is char(n) / character(n); the quoted single-byte "char" type is a different one.
      .filter(({ column }) => typeName(column.typeName) === 'bpchar')
      .map(({ table, column }) => ({ at: locationOr(column.typeName?.location, statement), subject: columnSubject(table, column.colname) })),
  ),
};
