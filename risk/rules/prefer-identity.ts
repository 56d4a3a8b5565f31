import { typeName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { columnDefinitions, columnSubject, locationOr, SERIAL_TYPES } from './support.ts';

export const rule: Rule = {
  id: 'prefer-identity',
  severity: 'low',
  lock: null,
  message: 'serial creates a separately owned sequence with looser semantics (its permissions, ownership and dumps are managed apart from the column).',
  alternative: 'Use bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT), the SQL-standard form.',
  start: eachStatement((statement) =>
    columnDefinitions(statement.node)
      .filter(({ column }) => SERIAL_TYPES.has(typeName(column.typeName)))
      .map(({ table, column }) => ({ at: locationOr(column.typeName?.location, statement), subject: columnSubject(table, column.colname) })),
  ),
};
