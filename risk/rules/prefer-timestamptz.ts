import { typeName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { columnDefinitions, columnSubject, locationOr } from './support.ts';

export const rule: Rule = {
  id: 'prefer-timestamptz',
  severity: 'low',
  lock: null,
  message: 'timestamp without time zone stores wall-clock values with no zone: the same instant reads differently per client time zone, and DST changes make values ambiguous.',
  alternative: 'Use timestamptz (timestamp with time zone), which stores an instant in UTC.',
  start: eachStatement((statement) =>
    columnDefinitions(statement.node)
      .filter(({ column }) => typeName(column.typeName) === 'timestamp')
      .map(({ table, column }) => ({ at: locationOr(column.typeName?.location, statement), subject: columnSubject(table, column.colname) })),
  ),
};
