// Splits a migration into statements with PostgreSQL's own parser (libpg_query, the server's
// grammar compiled to WebAssembly; the PostgreSQL 15 build, the server version pggit-ops targets).
import { hasSqlDetails, loadModule, parseSync, type Node } from 'libpg-query';
import { SourceText, type Position } from './source.ts';

export interface ParsedStatement {
  /** 0-based index in the file. */
  index: number;
  /** The statement's parse tree: one key, the node type (e.g. AlterTableStmt). */
  node: Node;
  /** Byte offset of the statement's first token. */
  start: number;
  /** Byte offset just past the statement (before its semicolon). */
  end: number;
}

export interface ParsedMigration {
  source: SourceText;
  statements: ParsedStatement[];
}

export class SqlSyntaxError extends Error {
  override name = 'SqlSyntaxError';
  constructor(readonly reason: string, readonly position: Position) {
    super(`${position.line}:${position.column}: ${reason}`);
  }
}

interface RawStatement {
  stmt: Node;
  stmt_location?: number;
  stmt_len?: number;
}

let loaded: Promise<void> | undefined;

/** Loads the WebAssembly parser once per process; parseMigration needs it. */
export function loadParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** Parses `text`; throws SqlSyntaxError with the line and column PostgreSQL's parser reports. */
export function parseMigration(text: string): ParsedMigration {
  const source = new SourceText(text);
  // The parser refuses an empty query; a file of only comments is an empty migration, not an error.
  const start = source.skipTrivia(0);
  if (start === source.byteLength) return { source, statements: [] };
  // libpg_query's wrapper refuses, as empty, text that JavaScript's trim() empties; PostgreSQL
  // takes those characters (no-break space, U+2028, U+3000, a byte-order mark) for part of a word.
  if (text.trim() === '') {
    throw new SqlSyntaxError(`syntax error at or near "${[...source.slice(start, source.byteLength)][0]}"`, source.position(start));
  }
  let raw: RawStatement[];
  try {
    raw = (parseSync(text) as { stmts?: RawStatement[] }).stmts ?? [];
  } catch (err) {
    if (!hasSqlDetails(err)) throw err;
    // The cursor counts characters (0-based), unlike the parse tree's byte offsets.
    const at = source.byteOffsetOfCharacter(err.sqlDetails.cursorPosition);
    throw new SqlSyntaxError(err.message, source.position(at));
  }
  return {
    source,
    statements: raw.map((s, index) => {
      const location = s.stmt_location ?? 0;
      // stmt_len 0 (or absent) means "to the end of the input".
      const end = s.stmt_len ? location + s.stmt_len : source.byteLength;
      return { index, node: s.stmt, start: source.skipTrivia(location), end };
    }),
  };
}
