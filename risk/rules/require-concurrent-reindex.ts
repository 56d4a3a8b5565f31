import { transactionBlockRefusal } from '../transactions.ts';
import { as, relationName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';

export const rule: Rule = {
  id: 'require-concurrent-reindex',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message:
    'REINDEX without CONCURRENTLY locks out writes to the table (SHARE lock) and takes an ACCESS EXCLUSIVE lock on each index ' +
    'it rebuilds, so queries that would use the index wait too.',
  alternative: 'REINDEX ... CONCURRENTLY (PostgreSQL 12+, outside a transaction block).',
  start: eachStatement((statement) => {
    const reindex = as(statement.node, 'ReindexStmt');
    if (!reindex || transactionBlockRefusal(statement.node)) return [];
    return [{ at: statement.start, subject: reindex.relation ? relationName(reindex.relation) : reindex.name }];
  }),
};
