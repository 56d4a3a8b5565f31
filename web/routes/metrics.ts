// GET /metrics in Prometheus' text format. Open by default, like most exporters, which is why the
// dashboard binds to 127.0.0.1 unless told otherwise; with dashboard.metrics_token_env set, a
// scrape must send `Authorization: Bearer <token>`. The metrics carry counts and sizes, no secrets.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../../worker/config.ts';
import type { DashboardContext } from '../context.ts';
import { createMetrics } from '../metrics.ts';

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer /, '') ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function registerMetrics(app: FastifyInstance, ctx: DashboardContext, env: NodeJS.ProcessEnv = process.env): void {
  const tokenEnv = ctx.loaded.config.dashboard.metrics_token_env;
  const token = tokenEnv === undefined ? undefined : env[tokenEnv];
  if (tokenEnv !== undefined && !token) throw new ConfigError(`dashboard.metrics_token_env: env ${tokenEnv} is not set`);
  const metrics = createMetrics(ctx);
  app.get('/metrics', async (request, reply) => {
    if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').type('text/plain').send('a bearer token is required');
    }
    return reply.type(metrics.contentType).send(await metrics.scrape());
  });
}
