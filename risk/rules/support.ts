// Readers the rules share: ALTER TABLE commands on tables that existed before the migration, and
// every column definition a statement writes (CREATE TABLE, ADD COLUMN, ALTER COLUMN TYPE).
import type { AlterTableCmd, ColumnDef, Node, RangeVar } from 'libpg-query';
import { as, relationName } from '../nodes.ts';
import type { ParsedStatement } from '../parse.ts';
import type { MigrationState } from '../state.ts';

/** The serial pseudo-types: an integer column with a sequence default. */
export const SERIAL_TYPES = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

export interface TableCommand {
  table: RangeVar;
  cmd: AlterTableCmd;
}

/** ALTER TABLE commands of `node` on a table the migration did not create itself. */
export function existingTableCommands(node: Node, state: MigrationState): TableCommand[] {
  const alter = as(node, 'AlterTableStmt');
  if (!alter?.relation || alter.objtype !== 'OBJECT_TABLE' || state.isNewTable(alter.relation)) return [];
  const table = alter.relation;
  return (alter.cmds ?? []).flatMap((c) => {
    const cmd = as(c, 'AlterTableCmd');
    return cmd ? [{ table, cmd }] : [];
  });
}

/** Column definitions `node` writes, with their table: new tables' columns, added columns, new column types. */
export function columnDefinitions(node: Node): Array<{ table: RangeVar; column: ColumnDef }> {
  const create = as(node, 'CreateStmt');
  if (create?.relation) {
    const table = create.relation;
    return (create.tableElts ?? []).flatMap((e) => {
      const column = as(e, 'ColumnDef');
      return column ? [{ table, column }] : [];
    });
  }
  const alter = as(node, 'AlterTableStmt');
  if (!alter?.relation) return [];
  const table = alter.relation;
  return (alter.cmds ?? []).flatMap((c) => {
    const cmd = as(c, 'AlterTableCmd');
    const column = as(cmd?.def, 'ColumnDef');
    if (!column || (cmd?.subtype !== 'AT_AddColumn' && cmd?.subtype !== 'AT_AlterColumnType')) return [];
    // ALTER COLUMN ... TYPE keeps the column's name in the command, not in its ColumnDef.
    return [{ table, column: { ...column, colname: column.colname ?? cmd.name } }];
  });
}

/** "table.column" for messages. */
export const columnSubject = (table: RangeVar, column: string | undefined) => `${relationName(table)}.${column ?? '?'}`;

/** The node's own location when the parser gave one, else the statement's first token. */
export const locationOr = (location: number | undefined, statement: ParsedStatement) => location ?? statement.start;
