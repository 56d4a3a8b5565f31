// Runs: the list (filter by target and runbook; refreshes while runs are going), one run's steps,
// timings, findings and approvals, and its Markdown report (run-report.ts, as `pggit-ops report`).
import type { FastifyInstance } from 'fastify';
import { listRuns, readRun, renderMarkdown } from '../../activities/run-report.ts';
import { targets } from '../../worker/config.ts';
import type { DashboardContext } from '../context.ts';
import { field, sendPage } from '../respond.ts';
import { age, duration, timestamp } from '../views/format.ts';
import { html } from '../views/html.ts';
import { statusText } from '../views/layout.ts';

export const runLink = (runId: string) => `/run?id=${encodeURIComponent(runId)}`;

export function registerRuns(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/', async (_request, reply) => reply.redirect('/runs', 303));

  app.get('/runs', async (request, reply) => {
    const target = field(request.query, 'target');
    const runbook = field(request.query, 'runbook');
    const runs = await listRuns(ctx.ledger, { target, runbook, limit: 100 });
    const runbooks = (await ctx.ledger.query<{ runbook: string }>('SELECT DISTINCT runbook FROM pggit_ops.runs ORDER BY 1')).rows.map((r) => r.runbook);
    const option = (value: string, chosen: string | undefined) => html`<option value="${value}" ${value === chosen ? 'selected' : ''}>${value}</option>`;
    return sendPage(request, reply, { title: 'Runs', path: '/runs', refreshSeconds: runs.some((r) => r.status === 'running') ? 5 : undefined }, html`
<form method="get" action="/runs" class="inline">
<label>target <select name="target"><option value="">all</option>${Object.keys(targets(ctx.loaded.config)).map((t) => option(t, target))}</select></label>
<label>runbook <select name="runbook"><option value="">all</option>${runbooks.map((r) => option(r, runbook))}</select></label>
<button>Filter</button></form>
<table><tr><th>started</th><th>run</th><th>runbook</th><th>target</th><th>status</th><th>critical</th><th>warning</th><th>took</th><th>by</th></tr>
${runs.map((r) => html`<tr><td title="${timestamp(r.started_at)}">${age(r.started_at)}</td><td><a href="${runLink(r.run_id)}">${r.run_id}</a></td>
<td>${r.runbook}</td><td>${r.target}</td><td>${statusText(r.status)}</td><td>${r.critical || ''}</td><td>${r.warning || ''}</td>
<td>${r.finished_at ? duration(r.finished_at.getTime() - r.started_at.getTime()) : ''}</td><td>${r.initiator}</td></tr>`)}
</table>${runs.length ? '' : html`<p class="muted">no runs</p>`}`);
  });

  app.get('/run', async (request, reply) => {
    const runId = field(request.query, 'id');
    const record = runId ? await readRun(ctx.ledger, runId) : undefined;
    if (!record) return sendPage(request, reply, { title: 'No such run', status: 404 }, html`<p>No run <code>${runId ?? '(none given: ?id=RUN)'}</code> in the ledger.</p>`);
    const { run, steps, findings, approvals } = record;
    const waiting = steps.some((s) => s.status === 'waiting_approval');
    return sendPage(request, reply, { title: `${run.runbook} on ${run.target}`, refreshSeconds: run.status === 'running' ? 5 : undefined }, html`
<p><code>${run.run_id}</code>: ${statusText(run.status)}, started by ${run.initiator} at ${timestamp(run.started_at)}${run.finished_at ? html`, finished at ${timestamp(run.finished_at)}` : ''}.
<a href="/run/report.md?id=${encodeURIComponent(run.run_id)}">Download the report (Markdown)</a></p>
${run.error ? html`<p class="s-failed">${run.error}</p>` : ''}
${waiting && run.status === 'running' ? html`<p>A step is waiting for approval: <a href="/approvals">decide on the approvals page</a>.</p>` : ''}
<h2>Steps</h2>
<table><tr><th>#</th><th>step</th><th>status</th><th>started</th><th>took</th><th>summary</th></tr>
${steps.map((s) => html`<tr><td>${s.position}</td><td>${s.step_id}</td><td>${statusText(s.status)}</td><td>${timestamp(s.started_at)}</td>
<td>${duration(s.duration_ms)}</td><td>${s.error ?? s.summary ?? ''}</td></tr>`)}</table>
<h2>Findings</h2>
${findings.length ? html`<table><tr><th>step</th><th>severity</th><th>code</th><th>message</th></tr>
${findings.map((f) => html`<tr><td>${f.step_id}</td><td>${statusText(f.severity)}</td><td>${f.code}</td><td>${f.message}</td></tr>`)}</table>` : html`<p class="muted">none</p>`}
<h2>Approvals</h2>
${approvals.length ? html`<table><tr><th>step</th><th>who</th><th>decision</th><th>when</th><th>outcome</th><th>reason</th></tr>
${approvals.map((a) => html`<tr><td>${a.step_id}</td><td>${a.approver}</td><td>${a.decision}</td><td>${timestamp(a.decided_at)}</td>
<td>${a.outcome}${a.refusal_reason ? `: ${a.refusal_reason}` : ''}</td><td>${a.reason ?? ''}</td></tr>`)}</table>` : html`<p class="muted">none</p>`}`);
  });

  app.get('/run/report.md', async (request, reply) => {
    const runId = field(request.query, 'id');
    const record = runId ? await readRun(ctx.ledger, runId) : undefined;
    if (!record) return reply.code(404).type('text/plain').send(`no run '${runId ?? ''}' in the ledger`);
    const file = `${record.run.run_id.replace(/[^A-Za-z0-9_.-]+/g, '_')}.md`;
    return reply.type('text/markdown; charset=utf-8').header('content-disposition', `attachment; filename="${file}"`).send(renderMarkdown(record));
  });
}
