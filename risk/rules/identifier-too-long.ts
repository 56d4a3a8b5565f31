import { walk } from '../nodes.ts';
import type { Rule } from '../rule.ts';
import type { SourceText } from '../source.ts';

/** PostgreSQL keeps NAMEDATALEN - 1 = 63 bytes of an identifier and silently drops the rest. */
const MAX_IDENTIFIER_BYTES = 63;
/** A truncated name is 60 to 63 bytes: truncation never splits a character of up to 4 bytes. */
const MIN_TRUNCATED_BYTES = MAX_IDENTIFIER_BYTES - 3;

/** Parse-tree fields that hold identifiers (besides String nodes in qualified names). */
const IDENTIFIER_FIELDS = new Set(['relname', 'schemaname', 'colname', 'idxname', 'conname', 'newname', 'subname', 'indexname', 'trigname', 'dbname']);

const QUOTE = 0x22;
const lower = (byte: number) => (byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte);
/** Bytes that continue an unquoted identifier (scan.l: letters, digits, _, $ and any non-ASCII byte). */
const continuesIdentifier = (byte: number | undefined) =>
  byte !== undefined && (byte >= 0x80 || byte === 0x5f || byte === 0x24 || (byte >= 0x30 && byte <= 0x39) || (lower(byte) >= 0x61 && lower(byte) <= 0x7a));

/**
 * Where in bytes [start, end) the identifier `name` was written longer than it is now: an occurrence
 * of the (case-folded) name that the source continues past.
 */
function truncatedAt(source: SourceText, start: number, end: number, name: Buffer): number | null {
  const b = source.bytes;
  for (let at = start; at + name.length <= end; at++) {
    if (continuesIdentifier(b[at - 1])) continue;
    let matches = true;
    for (let i = 0; i < name.length && matches; i++) matches = lower(b[at + i]!) === lower(name[i]!);
    if (!matches) continue;
    const next = b[at + name.length];
    const quoted = b[at - 1] === QUOTE;
    if (quoted ? next !== QUOTE : continuesIdentifier(next)) return quoted ? at - 1 : at;
  }
  return null;
}

export const rule: Rule = {
  id: 'identifier-too-long',
  severity: 'medium',
  lock: null,
  message:
    'The identifier is longer than 63 bytes: PostgreSQL silently truncates it, so the object gets a different name than the ' +
    'migration says, and two long names sharing their first 63 bytes collide.',
  alternative: 'Use names of at most 63 bytes (fewer characters for non-ASCII names: é takes 2 bytes).',
  start: (source: SourceText) => ({
    statement(statement) {
      const names = new Set<string>();
      walk(statement.node, (type, fields) => {
        for (const [key, value] of Object.entries(fields)) {
          const isName = IDENTIFIER_FIELDS.has(key) || (type === 'String' && key === 'sval');
          if (isName && typeof value === 'string' && Buffer.byteLength(value) >= MIN_TRUNCATED_BYTES) names.add(value);
        }
      });
      return [...names].flatMap((name) => {
        const at = truncatedAt(source, statement.start, statement.end, Buffer.from(name));
        return at === null ? [] : [{ at, subject: `${name}… (kept ${Buffer.byteLength(name)} bytes)` }];
      });
    },
  }),
};
