import { as, relationName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';

export const rule: Rule = {
  id: 'require-concurrent-index-creation',
  severity: 'high',
  lock: 'ShareLock',
  message: 'CREATE INDEX without CONCURRENTLY holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE waits.',
  alternative:
    'CREATE INDEX CONCURRENTLY (outside a transaction block); if it fails it leaves an INVALID index to drop and retry.',
  start: eachStatement((statement, state) => {
    const index = as(statement.node, 'IndexStmt');
    if (!index?.relation || index.concurrent || state.isNewTable(index.relation)) return [];
    return [{ at: statement.start, subject: relationName(index.relation) }];
  }),
};
