import { as, strings } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';

export const rule: Rule = {
  id: 'dropping-table',
  severity: 'critical',
  lock: 'AccessExclusiveLock',
  message: 'Dropping a table loses its data and breaks every running client that still uses it.',
  alternative: 'Stop using the table in the application first, rename it aside or revoke access for a release, and drop it in a later migration after a backup.',
  start: eachStatement((statement, state) => {
    const drop = as(statement.node, 'DropStmt');
    if (drop?.removeType !== 'OBJECT_TABLE') return [];
    return (drop.objects ?? []).flatMap((o) => {
      const parts = strings(as(o, 'List')?.items);
      const table = { relname: parts.at(-1), schemaname: parts.length > 1 ? parts.at(-2) : undefined };
      return state.isNewTable(table) ? [] : [{ at: statement.start, subject: parts.join('.') }];
    });
  }),
};
