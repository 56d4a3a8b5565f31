import { as, strings } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';

export const rule: Rule = {
  id: 'require-concurrent-index-deletion',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message: 'DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index\'s table: reads and writes wait, and queue behind any long query.',
  alternative: 'DROP INDEX CONCURRENTLY (outside a transaction block, one index per statement).',
  start: eachStatement((statement, state) => {
    const drop = as(statement.node, 'DropStmt');
    if (drop?.removeType !== 'OBJECT_INDEX' || drop.concurrent) return [];
    return (drop.objects ?? []).flatMap((o) => {
      const name = as(o, 'List')?.items ?? [];
      return state.isNewIndex(name) ? [] : [{ at: statement.start, subject: strings(name).join('.') }];
    });
  }),
};
