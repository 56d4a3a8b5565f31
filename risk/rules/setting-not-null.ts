import { relationName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { existingTableCommands } from './support.ts';

export const rule: Rule = {
  id: 'setting-not-null',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message: 'SET NOT NULL scans the whole table to check for NULLs while holding an ACCESS EXCLUSIVE lock.',
  alternative:
    'ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT c (SHARE UPDATE EXCLUSIVE lock, ' +
    'reads and writes continue); SET NOT NULL then uses the valid constraint and skips the scan (PostgreSQL 12+). Drop the check afterwards.',
  start: eachStatement((statement, state) =>
    existingTableCommands(statement.node, state)
      .filter(({ cmd }) => cmd.subtype === 'AT_SetNotNull')
      .map(({ table, cmd }) => ({ at: statement.start, subject: `${relationName(table)}.${cmd.name}` })),
  ),
};
