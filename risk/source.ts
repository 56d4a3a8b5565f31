// A migration's text as the parser sees it: UTF-8 bytes. libpg_query reports every location as a
// byte offset into the UTF-8 encoding, while people (and editors) count lines and characters; this
// module is the one place that converts between the two.

export interface Position {
  /** 1-based line. */
  line: number;
  /** 1-based column in characters (Unicode code points, as PostgreSQL counts them), not bytes. */
  column: number;
}

const NEWLINE = 0x0a;

/** Bytes PostgreSQL's scanner treats as whitespace (scan.l: space, \t, \n, \r, \f, \v). */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0c, 0x0b]);

export class SourceText {
  readonly bytes: Buffer;
  /** Byte offset of the first byte of each line. */
  private readonly lineStarts: number[] = [0];

  constructor(readonly text: string) {
    this.bytes = Buffer.from(text, 'utf8');
    for (let i = 0; i < this.bytes.length; i++) if (this.bytes[i] === NEWLINE) this.lineStarts.push(i + 1);
  }

  get byteLength(): number {
    return this.bytes.length;
  }

  /** Line and column of a byte offset. */
  position(byteOffset: number): Position {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.lineStarts[mid]! <= byteOffset) low = mid;
      else high = mid - 1;
    }
    const lineStart = this.lineStarts[low]!;
    return { line: low + 1, column: countCodePoints(this.bytes.toString('utf8', lineStart, byteOffset)) + 1 };
  }

  /** Byte offset of a 0-based character (code point) index, the unit of the parser's error cursor. */
  byteOffsetOfCharacter(characterIndex: number): number {
    let bytes = 0;
    let characters = 0;
    for (const character of this.text) {
      if (characters === characterIndex) break;
      bytes += Buffer.byteLength(character, 'utf8');
      characters++;
    }
    return bytes;
  }

  slice(start: number, end: number): string {
    return this.bytes.toString('utf8', start, end);
  }

  /**
   * The first byte at or after `offset` that is not whitespace or a comment. libpg_query's
   * statement location starts right after the previous semicolon, so it includes the blank lines
   * and comments in front of the statement; findings point at the statement's first token instead.
   */
  skipTrivia(offset: number): number {
    const b = this.bytes;
    let i = offset;
    while (i < b.length) {
      if (WHITESPACE.has(b[i]!)) i++;
      else if (b[i] === 0x2d && b[i + 1] === 0x2d) {
        // -- comment, to the end of the line
        while (i < b.length && b[i] !== NEWLINE) i++;
      } else if (b[i] === 0x2f && b[i + 1] === 0x2a) {
        // /* comment */, which nests in PostgreSQL
        let depth = 0;
        do {
          if (b[i] === 0x2f && b[i + 1] === 0x2a) {
            depth++;
            i += 2;
          } else if (b[i] === 0x2a && b[i + 1] === 0x2f) {
            depth--;
            i += 2;
          } else i++;
        } while (depth > 0 && i < b.length);
      } else break;
    }
    return i;
  }
}

function countCodePoints(text: string): number {
  let n = 0;
  // A low surrogate continues the code point its high surrogate started.
  for (let i = 0; i < text.length; i++) if (!isLowSurrogate(text.charCodeAt(i))) n++;
  return n;
}

const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;
