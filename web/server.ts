// The dashboard (`pggit-ops serve`, and `npm run up`): server-rendered pages over the ledger and
// Temporal, approvals for signed-in people, and /metrics. Fastify with its cookie, form and CSRF
// plugins; no client-side script and no build step.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { CliError } from '../cli/exit-codes.ts';
import { ConfigError, type LoadedConfig } from '../worker/config.ts';
import { cookieOptions, registerAuth } from './auth.ts';
import { ledgerPool, type DashboardContext } from './context.ts';
import { sendPage } from './respond.ts';
import { registerAlerts } from './routes/alerts.ts';
import { registerApprovals } from './routes/approvals.ts';
import { registerBackups } from './routes/backups.ts';
import { registerCapacity } from './routes/capacity.ts';
import { registerMetrics } from './routes/metrics.ts';
import { registerRuns } from './routes/runs.ts';
import { registerSchedules } from './routes/schedules.ts';
import { Sessions } from './sessions.ts';
import { html } from './views/html.ts';
import { message } from './views/layout.ts';

const loopback = (host: string) => host === 'localhost' || (isIP(host) !== 0 && /^(127\.|::1$|::ffff:127\.)/.test(host));

/** TLS options from dashboard.tls; a host other than loopback must have them (sign-in sends passwords). */
function httpsOptions(loaded: LoadedConfig): { key: Buffer; cert: Buffer } | undefined {
  const { host, tls } = loaded.config.dashboard;
  if (!tls) {
    if (!loopback(host)) throw new ConfigError(`dashboard.host ${host}: only a loopback address may serve plain http (passwords and session cookies); set dashboard.tls`);
    return undefined;
  }
  const read = (key: 'cert_path' | 'key_path') => {
    const file = path.resolve(loaded.baseDir, tls[key]);
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`dashboard.tls.${key} ${file}: ${(err as Error).message}`);
    }
  };
  return { cert: read('cert_path'), key: read('key_path') };
}

export async function createDashboard(loaded: LoadedConfig, client: Client): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const https = httpsOptions(loaded);
  const app = (https ? Fastify({ https, logger: { level: 'warn' } }) : Fastify({ logger: { level: 'warn' } })) as FastifyInstance;
  const ctx: DashboardContext = { loaded, client, ledger: ledgerPool(loaded.config) };
  await app.register(cookie);
  await app.register(formbody);
  await app.register(csrf, { cookieKey: '__Host-pggit-ops-csrf', cookieOpts: cookieOptions });
  registerAuth(app, ctx, new Sessions(loaded.config.dashboard.session_hours * 3_600_000));
  registerRuns(app, ctx);
  registerApprovals(app, ctx);
  registerSchedules(app, ctx);
  registerBackups(app, ctx);
  registerCapacity(app, ctx);
  registerAlerts(app, ctx);
  registerMetrics(app, ctx);
  app.setErrorHandler((err: Error, request, reply) => {
    // A bad form or a refused CSRF token is the visitor's; anything else is ours (logged, not shown).
    const status = err instanceof CliError ? 400 : (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error(err);
    const text = status >= 500 ? 'Something went wrong on the server (see its log); the ledger or Temporal may be unreachable.' : err.message;
    if (!request.user) return reply.code(status).type('text/plain').send(text);
    return sendPage(request, reply, { title: 'Error', status }, html`${message('bad', text)}<p><a href="/runs">Runs</a></p>`);
  });
  return {
    app,
    async close() {
      await app.close();
      await ctx.ledger.end();
    },
  };
}

/** Starts the dashboard on dashboard.host / port (port 0: any free port); returns its address. */
export async function serveDashboard(loaded: LoadedConfig, client: Client, port = loaded.config.dashboard.port): Promise<{ url: string; close(): Promise<void> }> {
  const dashboard = await createDashboard(loaded, client);
  const { host } = loaded.config.dashboard;
  await dashboard.app.listen({ host, port });
  const address = dashboard.app.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  const scheme = loaded.config.dashboard.tls ? 'https' : 'http';
  return { url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound}`, close: dashboard.close };
}
