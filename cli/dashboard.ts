// `pggit-ops serve`: the dashboard until Ctrl-C; `pggit-ops hash-password`: a password hash for
// people.users.<name>.password_scrypt.
import { once } from 'node:events';
import { text } from 'node:stream/consumers';
import { hashPassword } from '../web/passwords.ts';
import { serveDashboard } from '../web/server.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { connectClient } from '../worker/temporal-connection.ts';
import { CliError, ExitCode } from './exit-codes.ts';

export async function serveCommand(loaded: LoadedConfig, opts: { port?: string }): Promise<ExitCode> {
  const port = opts.port === undefined ? undefined : Number(opts.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new CliError(ExitCode.BadInput, `--port ${opts.port}: must be 0-65535`);
  const client = await connectClient(loaded);
  try {
    const dashboard = await serveDashboard(loaded, client, port);
    console.log(`Dashboard    ${dashboard.url} (metrics ${dashboard.url}/metrics). Press Ctrl-C to stop.`);
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    await once(stop.signal, 'abort');
    await dashboard.close();
    return ExitCode.Ok;
  } finally {
    await client.connection.close();
  }
}

/** Reads the password from stdin (so it is in no shell history or process list) and prints its hash. */
export async function hashPasswordCommand(): Promise<ExitCode> {
  if (process.stdin.isTTY) console.error('password (then Enter and Ctrl-D):');
  const password = (await text(process.stdin)).replace(/\r?\n$/, '');
  if (password.length < 8) throw new CliError(ExitCode.BadInput, 'password: at least 8 characters, please');
  console.log(await hashPassword(password));
  return ExitCode.Ok;
}
