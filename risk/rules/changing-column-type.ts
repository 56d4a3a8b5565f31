import { as } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { columnSubject, existingTableCommands, locationOr } from './support.ts';

export const rule: Rule = {
  id: 'changing-column-type',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message:
    'Changing a column\'s type rewrites the table and rebuilds its indexes under an ACCESS EXCLUSIVE lock (except binary-compatible ' +
    'changes such as varchar(n) to text or to a larger n), and breaks clients that expect the old type.',
  alternative: 'Add a new column of the new type, backfill it in batches, switch the application over, then drop the old column.',
  start: eachStatement((statement, state) =>
    existingTableCommands(statement.node, state)
      .filter(({ cmd }) => cmd.subtype === 'AT_AlterColumnType')
      .map(({ table, cmd }) => ({ at: locationOr(as(cmd.def, 'ColumnDef')?.location, statement), subject: columnSubject(table, cmd.name) })),
  ),
};
