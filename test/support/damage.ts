// Damaging a backup on purpose, as a disk or a careless hand would.
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';

/**
 * Inverts `count` bytes in the middle of `file`, in place: the archive's table of contents at the
 * front still reads, its data does not, and nothing but the bytes says so (the catalog still does
 * not know).
 */
export function flipMiddleBytes(file: string, count = 64): void {
  const fd = openSync(file, 'r+');
  try {
    const middle = Math.floor(statSync(file).size / 2);
    const bytes = Buffer.alloc(count);
    readSync(fd, bytes, 0, count, middle);
    writeSync(fd, Buffer.from(bytes.map((b) => b ^ 0xff)), 0, count, middle);
  } finally {
    closeSync(fd);
  }
}
