// Statements PostgreSQL refuses to run inside a transaction block (SQLSTATE 25001).
import type { Node } from 'libpg-query';
import { as } from './nodes.ts';

const concurrently = (params: Node[] | undefined) => (params ?? []).some((p) => as(p, 'DefElem')?.defname === 'concurrently');

/** Why `node` cannot run in a transaction block, or null when it can. */
export function transactionBlockRefusal(node: Node): string | null {
  if (as(node, 'IndexStmt')?.concurrent) return 'CREATE INDEX CONCURRENTLY';
  if (as(node, 'DropStmt')?.concurrent) return 'DROP INDEX CONCURRENTLY';
  if (concurrently(as(node, 'ReindexStmt')?.params)) return 'REINDEX CONCURRENTLY';
  const vacuum = as(node, 'VacuumStmt');
  if (vacuum?.is_vacuumcmd) return 'VACUUM';
  if (as(node, 'CreatedbStmt')) return 'CREATE DATABASE';
  if (as(node, 'DropdbStmt')) return 'DROP DATABASE';
  if (as(node, 'AlterSystemStmt')) return 'ALTER SYSTEM';
  if (as(node, 'CreateTableSpaceStmt')) return 'CREATE TABLESPACE';
  if (as(node, 'DropTableSpaceStmt')) return 'DROP TABLESPACE';
  const detach = as(node, 'AlterTableStmt')?.cmds?.some((c) => as(as(c, 'AlterTableCmd')?.def, 'PartitionCmd')?.concurrent);
  if (detach) return 'DETACH PARTITION CONCURRENTLY';
  return null;
}
