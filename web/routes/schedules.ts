// Schedules: the checklists' Temporal Schedules with their next and last run; pause and resume
// (through cli/schedules.ts, as `pggit-ops schedules pause | unpause`).
import type { FastifyInstance } from 'fastify';
import { listSchedules, scheduleAction } from '../../cli/schedules.ts';
import { soon, type DashboardContext } from '../context.ts';
import { field, sendPage } from '../respond.ts';
import { age, timestamp } from '../views/format.ts';
import { html } from '../views/html.ts';
import { message } from '../views/layout.ts';

export function registerSchedules(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/schedules', async (request, reply) => {
    const listed = await ctx.client.withDeadline(soon(10_000), () => listSchedules(ctx.client)).then(
      (schedules) => ({ schedules }),
      (err: unknown) => ({ schedules: [], error: (err as Error).message }),
    );
    return sendPage(request, reply, { title: 'Schedules', path: '/schedules' }, (csrf) => html`
${'error' in listed ? message('bad', `Cannot list the schedules from Temporal: ${listed.error}`) : ''}
${listed.schedules.length ? '' : html`<p class="muted">No schedules: <code>pggit-ops schedules sync</code> creates them.</p>`}
<table><tr><th>schedule</th><th>state</th><th>cron</th><th>next run</th><th>last run</th><th></th></tr>
${listed.schedules.map((s) => html`<tr><td>${s.scheduleId}</td><td>${s.paused ? html`<span class="s-pending">paused</span>${s.note ? ` (${s.note})` : ''}` : 'active'}</td>
<td><code>${s.cron ?? ''}</code> ${s.timezone ?? ''}</td><td>${timestamp(s.nextRun)}</td><td>${age(s.lastRun)}</td>
<td><form method="post" action="/schedules" class="inline"><input type="hidden" name="_csrf" value="${csrf}">
<input type="hidden" name="scheduleId" value="${s.scheduleId}"><input type="hidden" name="action" value="${s.paused ? 'unpause' : 'pause'}">
<input name="note" placeholder="why" size="16"><button>${s.paused ? 'Resume' : 'Pause'}</button></form></td></tr>`)}</table>`);
  });

  app.post('/schedules', { preHandler: app.csrfProtection }, async (request, reply) => {
    const scheduleId = field(request.body, 'scheduleId');
    const action = field(request.body, 'action');
    if (!scheduleId || (action !== 'pause' && action !== 'unpause')) {
      return sendPage(request, reply, { title: 'Not changed', status: 400 }, message('bad', `scheduleId and action (pause or unpause) are required; got action '${action ?? ''}'`));
    }
    const note = `${field(request.body, 'note') ?? `${action}d`} (by ${request.user}, dashboard)`;
    await ctx.client.withDeadline(soon(), () => scheduleAction(ctx.client, scheduleId, action, note));
    return reply.redirect('/schedules', 303);
  });
}
