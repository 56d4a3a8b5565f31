// Small readers of libpg_query parse trees, shared by the rules.
import type { Node, RangeVar, TypeName } from 'libpg-query';

/** The node's type, e.g. "AlterTableStmt": a parse-tree node is an object with that one key. */
export const nodeType = (node: Node): string => Object.keys(node)[0]!;

type KeysOf<T> = T extends unknown ? keyof T : never;
/** The node types, e.g. "AlterTableStmt" | "String" | ... */
export type NodeType = KeysOf<Node>;
export type Fields<K extends NodeType> = Extract<Node, Record<K, unknown>>[K];

/** The node's fields when it is of type `type`. */
export function as<K extends NodeType>(node: Node | undefined, type: K): Fields<K> | undefined {
  return node && type in node ? (node as unknown as Record<K, Fields<K>>)[type] : undefined;
}

/** schema.name as written (the schema only when the SQL names one). */
export const relationName = (rv: RangeVar): string => (rv.schemaname ? `${rv.schemaname}.${rv.relname}` : rv.relname ?? '');

/** The type's own name without pg_catalog, e.g. int4, bpchar, timestamp, serial. */
export function typeName(tn: TypeName | undefined): string {
  const last = tn?.names?.at(-1);
  return (as(last, 'String')?.sval ?? '').toLowerCase();
}

/** String items of a list of String nodes, e.g. a qualified name ["public", "users"]. */
export const strings = (nodes: Node[] | undefined): string[] => (nodes ?? []).map((n) => as(n, 'String')?.sval ?? '');

/**
 * Calls `visit` on every object under `value`, depth first. `key` is the node type for nodes
 * wrapped as { Type: fields } (e.g. "FuncCall") and the field name for inline ones (e.g. "relation").
 */
export function walk(value: unknown, visit: (key: string, fields: Record<string, unknown>) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, visit);
  } else if (value && typeof value === 'object') {
    for (const [key, fields] of Object.entries(value)) {
      if (fields && typeof fields === 'object' && !Array.isArray(fields)) visit(key, fields as Record<string, unknown>);
      walk(fields, visit);
    }
  }
}
