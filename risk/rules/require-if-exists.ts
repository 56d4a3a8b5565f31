import type { Node } from 'libpg-query';
import { as } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';

/** Statements that fail when run a second time unless they say IF [NOT] EXISTS, and what to add. */
function missingGuard(node: Node): string | null {
  const created = as(node, 'CreateStmt') ?? as(node, 'IndexStmt') ?? as(node, 'CreateSchemaStmt') ?? as(node, 'CreateSeqStmt') ?? as(node, 'CreateExtensionStmt');
  if (created && !created.if_not_exists) return 'CREATE without IF NOT EXISTS';
  const drop = as(node, 'DropStmt');
  if (drop && !drop.missing_ok) return 'DROP without IF EXISTS';
  for (const c of as(node, 'AlterTableStmt')?.cmds ?? []) {
    const cmd = as(c, 'AlterTableCmd');
    if (cmd?.missing_ok) continue;
    if (cmd?.subtype === 'AT_AddColumn') return 'ADD COLUMN without IF NOT EXISTS';
    if (cmd?.subtype === 'AT_DropColumn') return 'DROP COLUMN without IF EXISTS';
    if (cmd?.subtype === 'AT_DropConstraint') return 'DROP CONSTRAINT without IF EXISTS';
  }
  return null;
}

export const rule: Rule = {
  id: 'require-if-exists',
  severity: 'low',
  lock: null,
  message: 'The statement fails when the migration is run again after a partial failure (the object already exists, or is already gone).',
  alternative: 'Write CREATE ... IF NOT EXISTS, DROP ... IF EXISTS, ADD COLUMN IF NOT EXISTS, DROP COLUMN IF EXISTS so a re-run is harmless.',
  start: eachStatement((statement) => {
    const guard = missingGuard(statement.node);
    return guard ? [{ at: statement.start, subject: guard }] : [];
  }),
};
