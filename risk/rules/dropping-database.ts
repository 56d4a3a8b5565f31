import { as } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';

export const rule: Rule = {
  id: 'dropping-database',
  severity: 'critical',
  lock: null,
  message: 'DROP DATABASE destroys a whole database; it has no place in a schema migration.',
  alternative: 'Drop databases by hand, after a verified backup, outside the migration pipeline.',
  start: eachStatement((statement) => {
    const drop = as(statement.node, 'DropdbStmt');
    return drop ? [{ at: statement.start, subject: drop.dbname }] : [];
  }),
};
