// How the DR activities reach PostgreSQL: databases the config does not name (a drill's scratch
// database lives beside a target's own), sessions whose statements stop when the activity is
// cancelled, and pg_restore / pg_dump / pg_amcheck as child processes. A child gets the password
// only through PGPASSWORD in its environment: a command line is readable by every user of the host.
import { execa } from 'execa';
import pg from 'pg';
import { ConfigError, targets, type Config } from '../../worker/config.ts';
import { pgBin } from '../../worker/tools.ts';
import { connectionConfig } from '../targets.ts';

/** What a long DR activity gets from its runner (Temporal's activity context, or a test). */
export interface DrContext {
  config: Config;
  /** Progress for Temporal; also how it notices a dead worker. */
  heartbeat(details?: unknown): void;
  /** Aborted when the activity is cancelled: child processes are killed, statements cancelled. */
  signal: AbortSignal;
}

/** A database on a configured target's server: the target's own database unless `database` is given. */
export interface DbRef {
  target: string;
  database?: string;
}

function clientConfig(config: Config, ref: DbRef): pg.ClientConfig {
  const base = connectionConfig(config, ref.target);
  return ref.database === undefined ? base : { ...base, database: ref.database };
}

/** URL parameters libpq also reads from the environment; any other one cannot reach a child safely. */
const urlParameterEnv: Record<string, string> = {
  host: 'PGHOST',
  port: 'PGPORT',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslcrl: 'PGSSLCRL',
  options: 'PGOPTIONS',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
  application_name: 'PGAPPNAME',
};

/** libpq's environment variables for `ref`, password included. */
function libpqEnv(config: Config, ref: DbRef): Record<string, string> {
  const resolved = connectionConfig(config, ref.target);
  const env: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') env[name] = String(value);
  };
  if (resolved.url !== undefined) {
    const url = new URL(resolved.url);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new ConfigError(`target '${ref.target}': only postgres:// and postgresql:// URLs can be handed to pg_dump and pg_restore`);
    }
    set('PGHOST', decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1')));
    set('PGPORT', url.port);
    set('PGUSER', decodeURIComponent(url.username));
    set('PGPASSWORD', decodeURIComponent(url.password));
    set('PGDATABASE', decodeURIComponent(url.pathname.slice(1)));
    for (const [key, value] of url.searchParams) {
      const name = urlParameterEnv[key];
      if (!name) throw new ConfigError(`target '${ref.target}': URL parameter '${key}' cannot be handed to pg_dump and pg_restore`);
      set(name, value);
    }
  } else {
    set('PGHOST', resolved.host);
    set('PGPORT', resolved.port);
    set('PGUSER', resolved.user);
    set('PGPASSWORD', typeof resolved.password === 'string' ? resolved.password : undefined);
    set('PGDATABASE', resolved.database);
    set('PGSSLMODE', targets(config)[ref.target]?.sslmode);
  }
  set('PGDATABASE', ref.database);
  return env;
}

/**
 * The environment of a child connecting to `ref`: the worker's own without any PG* variable (a
 * stray PGSERVICE or PGSSLMODE must not redirect the child, and the worker's PGGIT_OPS_*PGPASSWORD
 * secrets are no business of it), in the C locale (its messages are parsed, so untranslated), plus
 * libpq's variables for `ref`.
 */
export function pgToolEnv(config: Config, ref: DbRef): Record<string, string> {
  const inherited = Object.entries(process.env).filter((e): e is [string, string] => !e[0].startsWith('PG') && e[1] !== undefined);
  return { ...Object.fromEntries(inherited), LC_ALL: 'C', ...libpqEnv(config, ref) };
}

/** The name of `target`'s own database, as libpq (pg_dump, pg_restore) connects to it: without one, libpq takes the user's name. */
export function databaseName(config: Config, target: string): string {
  const env = libpqEnv(config, { target });
  const name = env.PGDATABASE ?? env.PGUSER;
  if (name === undefined) throw new ConfigError(`target '${target}': no database name (and no user name to default to)`);
  return name;
}

/**
 * The `--dbname` option naming `database`. libpq reads a --dbname holding '=' (or starting with
 * postgres://) as a connection string: as is, a database called `a=b` would be a syntax error, and
 * one called `host=... dbname=...` another server. So the name goes in a connection string, quoted.
 */
export function dbnameOption(database: string): string {
  return `--dbname=dbname='${database.replace(/[\\']/g, '\\$&')}'`;
}

export interface ToolRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a PostgreSQL client program to completion, heartbeating its latest stderr line (each line,
 * and every `heartbeatMs` while it is quiet, as during a long COPY). A non-zero exit is returned,
 * not thrown: the callers turn it into findings. When ctx.signal aborts, the program is killed
 * (SIGTERM, on which pg_restore and pg_dump cancel their queries; SIGKILL 5 s later) and the abort
 * reason is thrown once it has exited.
 */
export async function runPgTool(
  ctx: Pick<DrContext, 'heartbeat' | 'signal'>,
  tool: 'pg_restore' | 'pg_dump' | 'pg_amcheck',
  args: string[],
  options: { env: Record<string, string>; phase: string; heartbeatMs?: number },
): Promise<ToolRun> {
  ctx.signal.throwIfAborted();
  const started = performance.now();
  let last = '';
  const beat = () => ctx.heartbeat({ phase: options.phase, last, elapsedMs: Math.round(performance.now() - started) });
  const timer = setInterval(beat, options.heartbeatMs ?? 5000);
  try {
    const result = await execa(pgBin(tool), ['--no-password', ...args], {
      env: options.env,
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      cancelSignal: ctx.signal,
      forceKillAfterDelay: 5000,
      stderr: [
        function* (line: unknown) {
          last = String(line);
          beat();
          yield line;
        },
      ],
    });
    ctx.signal.throwIfAborted();
    // Killed by someone else (the OOM killer): said where callers look for the reason, the last line.
    const stderr = result.signal ? `${result.stderr}\n${tool} was killed by ${result.signal}` : result.stderr;
    return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr, ms: Math.round(performance.now() - started) };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Runs `fn` with a session of its own on `ref` (never a pooled one: callers may change session
 * settings), always closing it. When `signal` aborts, the running statement is cancelled through a
 * second session and the abort reason is thrown rather than the server's "canceling statement".
 */
export async function withSession<T>(config: Config, ref: DbRef, signal: AbortSignal | undefined, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  const settings = clientConfig(config, ref);
  const client = new pg.Client(settings);
  // A session terminated under us (DROP DATABASE ... WITH (FORCE)) fails the statement; that is enough.
  client.on('error', () => undefined);
  await client.connect();
  const cancel = () => {
    const pid = (client as unknown as { processID: number }).processID;
    const canceller = new pg.Client(settings);
    canceller.on('error', () => undefined);
    canceller
      .connect()
      .then(() => canceller.query('SELECT pg_cancel_backend($1)', [pid]))
      .catch(() => undefined)
      .finally(() => canceller.end().catch(() => undefined));
  };
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await fn(client);
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
    await client.end().catch(() => undefined);
  }
}
