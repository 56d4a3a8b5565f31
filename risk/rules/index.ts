// Every rule, grouped as the README lists them. A rule is one file here with fixtures in fixtures/<rule-id>/.
import type { Rule } from '../rule.ts';
import { rule as addingFieldWithVolatileDefault } from './adding-field-with-volatile-default.ts';
import { rule as addingUniqueConstraint } from './adding-unique-constraint.ts';
import { rule as changingColumnType } from './changing-column-type.ts';
import { rule as concurrentlyInTransaction } from './concurrently-in-transaction.ts';
import { rule as constraintMissingNotValid } from './constraint-missing-not-valid.ts';
import { rule as detachPartitionWithoutConcurrently } from './detach-partition-without-concurrently.ts';
import { rule as droppingColumn } from './dropping-column.ts';
import { rule as droppingDatabase } from './dropping-database.ts';
import { rule as droppingNotNull } from './dropping-not-null.ts';
import { rule as droppingTable } from './dropping-table.ts';
import { rule as identifierTooLong } from './identifier-too-long.ts';
import { rule as preferBigintPrimaryKey } from './prefer-bigint-primary-key.ts';
import { rule as preferIdentity } from './prefer-identity.ts';
import { rule as preferTextOverChar } from './prefer-text-over-char.ts';
import { rule as preferTimestamptz } from './prefer-timestamptz.ts';
import { rule as renamingColumn } from './renaming-column.ts';
import { rule as renamingTable } from './renaming-table.ts';
import { rule as requireConcurrentIndexCreation } from './require-concurrent-index-creation.ts';
import { rule as requireConcurrentIndexDeletion } from './require-concurrent-index-deletion.ts';
import { rule as requireConcurrentReindex } from './require-concurrent-reindex.ts';
import { rule as requireIfExists } from './require-if-exists.ts';
import { rule as requireTimeouts } from './require-timeouts.ts';
import { rule as settingNotNull } from './setting-not-null.ts';
import { rule as transactionNesting } from './transaction-nesting.ts';
import { rule as vacuumFullOrCluster } from './vacuum-full-or-cluster.ts';

export const rules: readonly Rule[] = [
  // table rewrites and heavy locks
  addingFieldWithVolatileDefault, settingNotNull, changingColumnType, constraintMissingNotValid, addingUniqueConstraint,
  requireConcurrentIndexCreation, requireConcurrentIndexDeletion, requireConcurrentReindex, detachPartitionWithoutConcurrently,
  vacuumFullOrCluster,
  // changes that break running clients
  droppingColumn, droppingTable, droppingDatabase, renamingColumn, renamingTable, droppingNotNull,
  // risky types
  preferTextOverChar, preferBigintPrimaryKey, preferIdentity, preferTimestamptz,
  // robustness
  requireIfExists, concurrentlyInTransaction, transactionNesting, requireTimeouts, identifierTooLong,
];
