// Sign-in, sign-out and the gate in front of every page: anonymous visitors get the sign-in page
// and nothing else. Session and CSRF cookies are Secure, HttpOnly, SameSite=Strict and
// __Host- prefixed (no Domain, Path=/, so no sibling host can set or read them). Browsers keep
// Secure cookies over plain http only on loopback addresses: elsewhere serve with dashboard.tls.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkCredentials } from './passwords.ts';
import type { Sessions } from './sessions.ts';
import type { DashboardContext } from './context.ts';
import { html } from './views/html.ts';
import { message, page } from './views/layout.ts';

export const sessionCookie = '__Host-pggit-ops-session';
export const cookieOptions = { path: '/', httpOnly: true, secure: true, sameSite: 'strict' } as const;

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user, set by the gate. */
    user: string | undefined;
  }
}

/** Routes anyone may reach: signing in, and /metrics (which has its own rule, routes/metrics.ts). */
const open = new Set(['/login', '/metrics']);

/** Only paths on this site are followed after sign-in (no open redirect). */
function localPath(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/runs';
}

function loginPage(reply: FastifyReply, next: string, failed: boolean): string {
  return page(
    { title: 'Sign in', csrf: '' },
    html`${failed ? message('bad', 'Sign-in failed: unknown user, or wrong password or token.') : ''}
<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${reply.generateCsrf()}"><input type="hidden" name="next" value="${next}">
<p><label>User <input name="user" autocomplete="username" required></label></p>
<p><label>Password or operator token <input name="secret" type="password" autocomplete="current-password" required></label></p>
<p><button>Sign in</button></p></form>`,
  );
}

export function registerAuth(app: FastifyInstance, ctx: DashboardContext, sessions: Sessions): void {
  app.decorateRequest('user', undefined);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    request.user = sessions.user(request.cookies[sessionCookie]);
    const path = request.url.split('?')[0]!;
    if (request.user || open.has(path)) return;
    if (request.method === 'GET') return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
    return reply.code(401).type('text/plain').send('sign in first');
  });

  app.get('/login', async (request, reply) => {
    const { next } = request.query as { next?: string };
    return reply.type('text/html').send(loginPage(reply, localPath(next), false));
  });

  app.post('/login', { preHandler: app.csrfProtection }, async (request, reply) => {
    const { user, secret, next } = (request.body ?? {}) as { user?: string; secret?: string; next?: string };
    if (!(await checkCredentials(ctx.loaded.config, user ?? '', secret ?? ''))) {
      request.log.warn({ user }, 'dashboard sign-in failed');
      return reply.code(401).type('text/html').send(loginPage(reply, localPath(next), true));
    }
    // A new id at every sign-in: a session id planted before it is worth nothing after.
    sessions.destroy(request.cookies[sessionCookie]);
    reply.setCookie(sessionCookie, sessions.create(user!), { ...cookieOptions, maxAge: ctx.loaded.config.dashboard.session_hours * 3600 });
    return reply.redirect(localPath(next), 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    sessions.destroy(request.cookies[sessionCookie]);
    reply.clearCookie(sessionCookie, cookieOptions);
    return reply.redirect('/login', 303);
  });
}
