import { as, relationName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { existingTableCommands, locationOr } from './support.ts';

const INDEX_BACKED = new Set(['CONSTR_UNIQUE', 'CONSTR_PRIMARY', 'CONSTR_EXCLUSION']);

export const rule: Rule = {
  id: 'adding-unique-constraint',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message:
    'Adding a UNIQUE, PRIMARY KEY or EXCLUDE constraint builds its index inside the ALTER TABLE, holding an ACCESS EXCLUSIVE ' +
    'lock for the whole build.',
  alternative:
    'CREATE UNIQUE INDEX CONCURRENTLY first (outside a transaction), then ALTER TABLE ... ADD CONSTRAINT name UNIQUE ' +
    '(or PRIMARY KEY) USING INDEX index_name, which only takes the lock briefly.',
  start: eachStatement((statement, state) =>
    existingTableCommands(statement.node, state).flatMap(({ table, cmd }) => {
      const constraint = cmd.subtype === 'AT_AddConstraint' ? as(cmd.def, 'Constraint') : undefined;
      // USING INDEX (indexname) attaches an index built beforehand: nothing is built under the lock.
      if (!constraint || !INDEX_BACKED.has(constraint.contype ?? '') || constraint.indexname) return [];
      return [{ at: locationOr(constraint.location, statement), subject: relationName(table) }];
    }),
  ),
};
