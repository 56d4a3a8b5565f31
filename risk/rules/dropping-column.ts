import { eachStatement, type Rule } from '../rule.ts';
import { columnSubject, existingTableCommands } from './support.ts';

export const rule: Rule = {
  id: 'dropping-column',
  severity: 'critical',
  lock: 'AccessExclusiveLock',
  message: 'Dropping a column loses its data and breaks every running client that still reads or writes it (SELECT col, INSERT naming it).',
  alternative:
    'Expand and contract: deploy application code that no longer uses the column, then drop it in a later migration (keep a backup of the data).',
  start: eachStatement((statement, state) =>
    existingTableCommands(statement.node, state)
      .filter(({ cmd }) => cmd.subtype === 'AT_DropColumn')
      .map(({ table, cmd }) => ({ at: statement.start, subject: columnSubject(table, cmd.name) })),
  ),
};
