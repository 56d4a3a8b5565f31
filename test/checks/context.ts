// A CheckContext as the step activity builds it, without Temporal: real connections to the target
// and ledger databases, a heartbeat spy and an AbortController. Args go through the check's own
// schema, as the activity does, so defaults apply exactly as in a run.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { onTestFinished, vi } from 'vitest';
import type { CheckContext, CheckDefinition, StepResult } from '../../activities/checks/define.ts';
import { loadPagila } from '../support/pagila.ts';
import { installPggit } from '../support/pggit.ts';
import type { PgConnection, TestPostgres } from '../support/postgres.ts';

export interface TestCheckContext extends CheckContext {
  heartbeat: ReturnType<typeof vi.fn<(details?: unknown) => void>>;
  abort: AbortController;
  end(): Promise<void>;
}

export async function checkContext(db: PgConnection, ledger: PgConnection = db, target = 'test'): Promise<TestCheckContext> {
  const dbClient = new pg.Client(db);
  const ledgerClient = new pg.Client(ledger);
  await dbClient.connect();
  await ledgerClient.connect();
  const abort = new AbortController();
  return {
    target,
    db: dbClient,
    ledger: ledgerClient,
    runId: `test/${target}/${randomBytes(4).toString('hex')}`,
    stepId: 'step',
    previousRunAt: undefined,
    heartbeat: vi.fn<(details?: unknown) => void>(),
    signal: abort.signal,
    abort,
    async end() {
      await Promise.all([dbClient.end(), ledgerClient.end()]);
    },
  };
}

export function runCheck(check: CheckDefinition, ctx: CheckContext, args: Record<string, unknown> = {}): Promise<StepResult> {
  return check.run(ctx, check.args.parse(args));
}

/** Runs `fn` with a fresh context, always closing its connections. */
export async function withCheckContext<T>(db: PgConnection, fn: (ctx: TestCheckContext) => Promise<T>, ledger: PgConnection = db): Promise<T> {
  const ctx = await checkContext(db, ledger);
  try {
    return await fn(ctx);
  } finally {
    await ctx.end();
  }
}

/** Findings at warning or above, as `severity code` strings, for compact assertions. */
export function problems(result: StepResult): string[] {
  return result.findings.filter((f) => f.severity !== 'info').map((f) => `${f.severity} ${f.code}`);
}

/** A new database on the test server with pggit installed, after loading Pagila if asked (as on a database that adopts pggit). */
export async function pggitDatabase(server: TestPostgres, prefix: string, pagila = false): Promise<PgConnection> {
  const db: PgConnection = { ...server.connection, database: await server.createDatabase(prefix) };
  if (pagila) await loadPagila(server.url(db.database));
  await installPggit(db);
  return db;
}

export interface Env {
  conn: PgConnection;
  ledgerConn: PgConnection;
  /** For setting the scene and looking at the result; steps get connections of their own. */
  db: pg.Client;
  ledger: pg.Client;
  /** A step's context on target 'pagila', as the activity builds it, with a new run id unless overridden. */
  ctx(overrides?: Partial<CheckContext>): Promise<CheckContext>;
}

/** A client closed when the current test finishes. */
export async function connectForTest(conn: PgConnection): Promise<pg.Client> {
  const client = new pg.Client(conn);
  await client.connect();
  onTestFinished(() => client.end());
  return client;
}

/** Pagila, then pggit; the ledger in the same database or in one of its own. */
export async function pagilaEnv(server: TestPostgres, prefix: string, ledgerIn: 'target' | 'own database'): Promise<Env> {
  const conn = { ...server.connection, database: await server.createDatabase(prefix) };
  await loadPagila(server.url(conn.database));
  await installPggit(conn);
  const ledgerConn = ledgerIn === 'target' ? conn : { ...server.connection, database: await server.createDatabase('ledger') };
  if (ledgerIn === 'own database') await installPggit(ledgerConn);
  return {
    conn,
    ledgerConn,
    db: await connectForTest(conn),
    ledger: await connectForTest(ledgerConn),
    async ctx(overrides = {}) {
      const ctx = await checkContext(conn, ledgerConn, 'pagila');
      onTestFinished(() => ctx.end());
      return Object.assign(ctx, overrides);
    },
  };
}

export const codes = (r: StepResult) => r.findings.map((f) => `${f.severity} ${f.code}`).sort();

/** Statistics reach other sessions when the backend that counted them flushes. */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
