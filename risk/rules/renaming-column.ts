import { as } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { columnSubject } from './support.ts';

export const rule: Rule = {
  id: 'renaming-column',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message: 'Renaming a column breaks every running client that uses the old name, from the moment the migration commits.',
  alternative: 'Add the new column, write both and backfill, move readers to the new name, then drop the old column in a later migration.',
  start: eachStatement((statement, state) => {
    const rename = as(statement.node, 'RenameStmt');
    if (rename?.renameType !== 'OBJECT_COLUMN' || !rename.relation || state.isNewTable(rename.relation)) return [];
    return [{ at: statement.start, subject: `${columnSubject(rename.relation, rename.subname)} to ${rename.newname}` }];
  }),
};
