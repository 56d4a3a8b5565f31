// Terminal output for people: colour and a spinner only on a terminal (and never with NO_COLOR
// set), aligned tables. Machine output (--json) never passes through here.
import picocolors from 'picocolors';

/** https://no-color.org: a present, non-empty NO_COLOR turns colour off. */
export function colourWanted(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.NO_COLOR && stream.isTTY === true && env.TERM !== 'dumb';
}

export const paint = picocolors.createColors(colourWanted(process.stdout));

const statusColours: Record<string, (text: string) => string> = {
  succeeded: paint.green, sent: paint.green, active: paint.green,
  failed: paint.red, rejected: paint.red, critical: paint.red,
  running: paint.yellow, waiting_approval: paint.yellow, warning: paint.yellow, paused: paint.yellow,
  cancelled: paint.dim, skipped: paint.dim,
};

/** The colour a status is shown in (none for a status without one). */
export function colourOf(status: string): (text: string) => string {
  return statusColours[status] ?? String;
}

export function statusPaint(status: string): string {
  return colourOf(status)(status);
}

const ansi = /\u001b\[[0-9;]*m/g;
const width = (text: string) => text.replace(ansi, '').length;

/** Rows under a header, each column as wide as its widest cell (colour codes do not count). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ').trimEnd();
  return [paint.bold(line(header)), ...rows.map(line)].join('\n');
}

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A spinner on stderr while long work runs (a backup, a restore, a cleanup), with the time it has
 * taken. Off a terminal it draws nothing: the caller's own progress lines are the record.
 */
export function spinner(stream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env) {
  const live = colourWanted(stream, env);
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  let since = Date.now();
  let frame = 0;
  const clear = () => live && stream.write('\r\u001b[2K');
  return {
    /** Shows `label` spinning (restarting the clock when the label changes); undefined stops it. */
    set(label: string | undefined): void {
      if (!live) return;
      if (label !== text) since = Date.now();
      text = label ?? '';
      if (label === undefined) {
        clearInterval(timer);
        timer = undefined;
        clear();
        return;
      }
      // unref: a spinner never keeps the process alive by itself.
      timer ??= setInterval(() => {
        clear();
        stream.write(`${paint.cyan(frames[(frame = (frame + 1) % frames.length)]!)} ${text} ${paint.dim(`${Math.round((Date.now() - since) / 1000)}s`)}`);
      }, 100).unref();
    },
    /** Prints a line above the spinner. */
    print(line: string, out: (line: string) => void): void {
      clear();
      out(line);
    },
  };
}
