import { as, relationName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';

export const rule: Rule = {
  id: 'renaming-table',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message: 'Renaming a table breaks every running client that uses the old name, from the moment the migration commits.',
  alternative: 'Rename, then create a view with the old name (simple views are updatable) until every client uses the new name; drop the view later.',
  start: eachStatement((statement, state) => {
    const rename = as(statement.node, 'RenameStmt');
    if (rename?.renameType !== 'OBJECT_TABLE' || !rename.relation || state.isNewTable(rename.relation)) return [];
    return [{ at: statement.start, subject: `${relationName(rename.relation)} to ${rename.newname}` }];
  }),
};
