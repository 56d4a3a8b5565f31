// Terminal output: colour and spinners only on a terminal and never with NO_COLOR; tables align
// whatever colour codes their cells carry.
import { PassThrough } from 'node:stream';
import picocolors from 'picocolors';
import { describe, expect, it } from 'vitest';
import { colourWanted, spinner, table } from '../cli/terminal.ts';

function stream(isTTY: boolean): NodeJS.WriteStream & { written: string } {
  const s = Object.assign(new PassThrough(), { isTTY, written: '' }) as unknown as NodeJS.WriteStream & { written: string };
  s.on('data', (chunk: Buffer) => (s.written += chunk.toString()));
  return s;
}

describe('terminal output', () => {
  it('colours only a terminal, and not with NO_COLOR or TERM=dumb', () => {
    expect(colourWanted(stream(true), {})).toBe(true);
    expect(colourWanted(stream(false), {})).toBe(false);
    expect(colourWanted(stream(true), { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted(stream(true), { NO_COLOR: '' })).toBe(true);
    expect(colourWanted(stream(true), { TERM: 'dumb' })).toBe(false);
  });

  it('aligns table columns by visible width', () => {
    const red = picocolors.createColors(true).red;
    const text = table(['run', 'status'], [['daily/local/1', red('failed')], ['weekly/prod/22', 'succeeded']]).replace(/\u001b\[[0-9;]*m/g, '');
    expect(text.split('\n')).toEqual(['run             status', 'daily/local/1   failed', 'weekly/prod/22  succeeded']);
  });

  it('draws a spinner on a terminal and nothing elsewhere', async () => {
    for (const isTTY of [true, false]) {
      const out = stream(isTTY);
      const spin = spinner(out, {});
      spin.set('backup_full running');
      await new Promise((r) => setTimeout(r, 250));
      spin.set(undefined);
      if (isTTY) expect(out.written).toMatch(/backup_full running \d+s/);
      else expect(out.written).toBe('');
    }
  });
});
