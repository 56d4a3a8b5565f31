import { eachStatement, type Rule } from '../rule.ts';
import { columnSubject, existingTableCommands } from './support.ts';

export const rule: Rule = {
  id: 'dropping-not-null',
  severity: 'medium',
  lock: 'AccessExclusiveLock',
  message: 'Dropping NOT NULL lets NULLs in: running clients that assume the column always has a value can fail or misbehave on them.',
  alternative: 'Make every reader handle NULL first, then drop the constraint; or keep NOT NULL with a default.',
  start: eachStatement((statement, state) =>
    existingTableCommands(statement.node, state)
      .filter(({ cmd }) => cmd.subtype === 'AT_DropNotNull')
      .map(({ table, cmd }) => ({ at: statement.start, subject: columnSubject(table, cmd.name) })),
  ),
};
