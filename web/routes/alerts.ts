// Alerts: what needs a person, newest first, from the ledger: critical and warning findings and
// failed runs of the last 7 days, and notifications that could not be delivered.
import type { FastifyInstance } from 'fastify';
import type { DashboardContext } from '../context.ts';
import { sendPage } from '../respond.ts';
import { age, timestamp } from '../views/format.ts';
import { html } from '../views/html.ts';
import { statusText } from '../views/layout.ts';
import { runLink } from './runs.ts';

export function registerAlerts(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/alerts', async (request, reply) => {
    const findings = (
      await ctx.ledger.query(
        `SELECT run_id, step_id, target, severity, code, message, created_at FROM pggit_ops.findings
          WHERE severity IN ('critical', 'warning') AND created_at > now() - interval '7 days'
          ORDER BY severity = 'critical' DESC, created_at DESC LIMIT 200`,
      )
    ).rows;
    const failedRuns = (
      await ctx.ledger.query(
        `SELECT run_id, target, error, finished_at FROM pggit_ops.runs
          WHERE status = 'failed' AND finished_at > now() - interval '7 days' ORDER BY finished_at DESC LIMIT 50`,
      )
    ).rows;
    const undelivered = (
      await ctx.ledger.query(
        `SELECT run_id, webhook, event, attempts, last_error, updated_at FROM pggit_ops.notifications
          WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 50`,
      )
    ).rows;
    return sendPage(request, reply, { title: 'Alerts', path: '/alerts' }, html`
<h2>Findings (7 days)</h2>
${findings.length ? html`<table><tr><th>when</th><th>target</th><th>severity</th><th>code</th><th>message</th><th>run</th></tr>
${findings.map((f) => html`<tr><td title="${timestamp(f.created_at)}">${age(f.created_at)}</td><td>${f.target}</td><td>${statusText(f.severity)}</td><td>${f.code}</td>
<td>${f.message}</td><td><a href="${runLink(f.run_id)}">${f.run_id}</a> (${f.step_id})</td></tr>`)}</table>` : html`<p class="muted">No warning or critical finding.</p>`}
<h2>Failed runs (7 days)</h2>
${failedRuns.length ? html`<table><tr><th>when</th><th>target</th><th>run</th><th>error</th></tr>
${failedRuns.map((r) => html`<tr><td>${age(r.finished_at)}</td><td>${r.target}</td><td><a href="${runLink(r.run_id)}">${r.run_id}</a></td><td>${r.error ?? ''}</td></tr>`)}</table>` : html`<p class="muted">None.</p>`}
<h2>Undelivered notifications</h2>
${undelivered.length ? html`<table><tr><th>when</th><th>webhook</th><th>event</th><th>attempts</th><th>error</th><th>run</th></tr>
${undelivered.map((n) => html`<tr><td>${age(n.updated_at)}</td><td>${n.webhook}</td><td>${n.event}</td><td>${n.attempts}</td><td>${n.last_error ?? ''}</td>
<td><a href="${runLink(n.run_id)}">${n.run_id}</a></td></tr>`)}</table>` : html`<p class="muted">None.</p>`}`);
  });
}
