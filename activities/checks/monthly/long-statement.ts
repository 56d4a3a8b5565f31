// One statement that may run for minutes on the target (VACUUM, REINDEX CONCURRENTLY): it keeps
// heartbeating while the server works, and a cancelled step cancels the statement on the server
// instead of leaving it running behind a worker that has already given up.
import net from 'node:net';
import type pg from 'pg';
import type { CheckContext } from '../define.ts';

/**
 * The protocol's CancelRequest (PostgreSQL docs, "Canceling Requests in Progress"): a new socket
 * carrying the backend's pid and secret key, no authentication. node-postgres keeps both on the
 * client but offers no public call for it (Client#cancel needs the deprecated activeQuery).
 */
function requestCancel(db: pg.Client): void {
  const { processID, secretKey } = db as unknown as { processID: number; secretKey: number };
  const message = Buffer.alloc(16);
  message.writeInt32BE(16, 0);
  message.writeInt32BE(80877102, 4);
  message.writeInt32BE(processID, 8);
  message.writeInt32BE(secretKey, 12);
  const socket = db.host.startsWith('/') ? net.connect(`${db.host}/.s.PGSQL.${db.port}`) : net.connect(db.port, db.host);
  socket.on('connect', () => socket.end(message));
  // Best effort: if the server cannot be reached, the statement dies with the connection anyway.
  socket.on('error', () => socket.destroy());
}

/**
 * Runs `sql` on ctx.db outside any transaction block, heartbeating `progress` plus the elapsed
 * time every `heartbeatMs`. Returns how long it took (ms). When ctx.signal aborts, the statement is
 * cancelled and the abort reason is thrown, not the server's "canceling statement" error.
 */
export async function runLongStatement(ctx: CheckContext, sql: string, progress: Record<string, unknown>, heartbeatMs = 5000): Promise<number> {
  ctx.signal.throwIfAborted();
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const timer = setInterval(() => ctx.heartbeat({ ...progress, running: sql, runningMs: elapsed() }), heartbeatMs);
  const cancel = () => requestCancel(ctx.db);
  ctx.signal.addEventListener('abort', cancel, { once: true });
  try {
    await ctx.db.query(sql);
    return elapsed();
  } catch (err) {
    ctx.signal.throwIfAborted();
    throw err;
  } finally {
    clearInterval(timer);
    ctx.signal.removeEventListener('abort', cancel);
  }
}

/** The server's message and SQLSTATE of a failed statement, for a finding's evidence. */
export function describeError(err: unknown): { message: string; sqlstate?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { message: err.message, sqlstate: code } : { message: err.message };
  }
  return { message: String(err) };
}
