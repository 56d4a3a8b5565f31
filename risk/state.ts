// What the statements before the current one have done, as far as the rules care: tables and
// indexes this migration created (new and empty, so rewriting or locking them harms no one), the
// explicit transaction the file has open, and whether lock_timeout / statement_timeout are set.
import type { Node, RangeVar } from 'libpg-query';
import { as, strings } from './nodes.ts';
import type { ParsedStatement } from './parse.ts';

interface QualifiedName {
  schema: string | undefined;
  name: string;
}

/** Unqualified names match any schema: the analyzer does not know the search_path. */
const sameObject = (a: QualifiedName, b: QualifiedName) => a.name === b.name && (!a.schema || !b.schema || a.schema === b.schema);

const fromRangeVar = (rv: RangeVar | undefined): QualifiedName | undefined => (rv?.relname ? { schema: rv.schemaname, name: rv.relname } : undefined);

function fromNameList(items: Node[]): QualifiedName {
  const parts = strings(items);
  return { schema: parts.length > 1 ? parts.at(-2) : undefined, name: parts.at(-1)! };
}

/** A timeout value that turns the timeout on: a number or duration other than 0. */
function enables(args: Node[] | undefined): boolean {
  const value = as(args?.[0], 'A_Const');
  if (!value) return false;
  if (value.ival) return (value.ival.ival ?? 0) !== 0;
  if (value.sval) return Number.parseFloat(value.sval.sval ?? '0') > 0;
  if (value.fval) return Number.parseFloat(value.fval.fval ?? '0') > 0;
  return false;
}

export class MigrationState {
  /** Explicit transactions opened by the file and not closed yet (BEGIN inside BEGIN counts twice). */
  transactionDepth = 0;
  /** Byte offset of the BEGIN that opened the outermost open transaction. */
  transactionStart: number | null = null;
  /** Timeouts set for the session, and with SET LOCAL for the open transaction only. */
  private readonly session = new Map<string, boolean>();
  private readonly local = new Map<string, boolean>();
  private readonly tables: QualifiedName[] = [];
  private readonly indexes: QualifiedName[] = [];

  get lockTimeout(): boolean {
    return this.local.get('lock_timeout') ?? this.session.get('lock_timeout') ?? false;
  }

  get statementTimeout(): boolean {
    return this.local.get('statement_timeout') ?? this.session.get('statement_timeout') ?? false;
  }

  /** The table was created earlier in this migration. */
  isNewTable(rv: RangeVar | undefined): boolean {
    const table = fromRangeVar(rv);
    return !!table && this.tables.some((t) => sameObject(t, table));
  }

  /** The index (a qualified name list, as DROP INDEX has it) was created earlier in this migration. */
  isNewIndex(name: Node[]): boolean {
    const index = fromNameList(name);
    return this.indexes.some((i) => sameObject(i, index));
  }

  /** Records what `statement` does; call after the rules have seen it. */
  apply(statement: ParsedStatement): void {
    const node = statement.node;
    const created = fromRangeVar(as(node, 'CreateStmt')?.relation) ?? fromRangeVar(as(node, 'CreateTableAsStmt')?.into?.rel);
    if (created) this.tables.push(created);

    const index = as(node, 'IndexStmt');
    if (index?.idxname) this.indexes.push({ schema: index.relation?.schemaname, name: index.idxname });

    const rename = as(node, 'RenameStmt');
    if (rename?.renameType === 'OBJECT_TABLE' && rename.newname && this.isNewTable(rename.relation)) {
      this.tables.push({ schema: rename.relation?.schemaname, name: rename.newname });
    }

    const transaction = as(node, 'TransactionStmt');
    if (transaction?.kind === 'TRANS_STMT_BEGIN' || transaction?.kind === 'TRANS_STMT_START') {
      if (this.transactionDepth === 0) this.transactionStart = statement.start;
      this.transactionDepth++;
    } else if (transaction?.kind === 'TRANS_STMT_COMMIT' || transaction?.kind === 'TRANS_STMT_ROLLBACK') {
      // One COMMIT ends the transaction however many BEGINs were nested: PostgreSQL has no nesting.
      this.transactionDepth = 0;
      this.transactionStart = null;
      this.local.clear();
    }

    const set = as(node, 'VariableSetStmt');
    if (set?.name === 'lock_timeout' || set?.name === 'statement_timeout') {
      // SET LOCAL outside a transaction block has no effect (PostgreSQL only warns).
      const scope = set.is_local ? (this.transactionDepth > 0 ? this.local : undefined) : this.session;
      scope?.set(set.name, set.kind === 'VAR_SET_VALUE' && enables(set.args));
    }
  }
}
