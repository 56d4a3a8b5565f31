// Sends a dashboard page: the frame, the signed-in user and a CSRF token for the page's forms.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Html } from './views/html.ts';
import { page } from './views/layout.ts';

export interface PageSpec {
  title: string;
  path?: string;
  refreshSeconds?: number;
  status?: number;
}

export function sendPage(request: FastifyRequest, reply: FastifyReply, spec: PageSpec, body: Html | ((csrf: string) => Html)): FastifyReply {
  const csrf = reply.generateCsrf();
  const content = typeof body === 'function' ? body(csrf) : body;
  return reply.code(spec.status ?? 200).type('text/html; charset=utf-8').send(page({ ...spec, user: request.user, csrf }, content));
}

/** Query-string and form fields arrive as strings, or not at all. */
export function field(source: unknown, name: string): string | undefined {
  const value = (source as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}
