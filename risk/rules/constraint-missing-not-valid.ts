import { as, relationName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { existingTableCommands, locationOr } from './support.ts';

export const rule: Rule = {
  id: 'constraint-missing-not-valid',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message:
    'Adding a CHECK or FOREIGN KEY constraint without NOT VALID checks every existing row while holding the lock ' +
    '(ACCESS EXCLUSIVE for CHECK; SHARE ROW EXCLUSIVE on both tables for a foreign key), blocking writes for the whole scan.',
  alternative:
    'Add it with NOT VALID (only new rows are checked, the lock is brief), then VALIDATE CONSTRAINT in a later statement: ' +
    'validation takes only a SHARE UPDATE EXCLUSIVE lock (ROW SHARE on the referenced table).',
  start: eachStatement((statement, state) =>
    existingTableCommands(statement.node, state).flatMap(({ table, cmd }) => {
      const constraint = cmd.subtype === 'AT_AddConstraint' ? as(cmd.def, 'Constraint') : undefined;
      const checked = constraint?.contype === 'CONSTR_CHECK' || constraint?.contype === 'CONSTR_FOREIGN';
      if (!constraint || !checked || constraint.skip_validation) return [];
      const kind = constraint.contype === 'CONSTR_CHECK' ? 'CHECK' : 'FOREIGN KEY';
      return [{
        at: locationOr(constraint.location, statement),
        subject: `${[kind, constraint.conname].filter(Boolean).join(' ')} on ${relationName(table)}`,
        lock: constraint.contype === 'CONSTR_CHECK' ? 'AccessExclusiveLock' as const : 'ShareRowExclusiveLock' as const,
      }];
    }),
  ),
};
