import { as, relationName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';
import { existingTableCommands, locationOr } from './support.ts';

export const rule: Rule = {
  id: 'detach-partition-without-concurrently',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message: 'DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table: every query on any partition waits.',
  alternative: 'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+, outside a transaction block; SHARE UPDATE EXCLUSIVE lock).',
  start: eachStatement((statement, state) =>
    existingTableCommands(statement.node, state).flatMap(({ table, cmd }) => {
      const partition = cmd.subtype === 'AT_DetachPartition' ? as(cmd.def, 'PartitionCmd') : undefined;
      if (!partition || partition.concurrent) return [];
      return [{ at: locationOr(partition.name?.location, statement), subject: `${partition.name ? relationName(partition.name) : '?'} from ${relationName(table)}` }];
    }),
  ),
};
