// Pending approvals and the approve / reject forms. A decision goes through the same path as
// `pggit-ops approve | reject` (cli/decide.ts): the run's own validator decides whether the
// signed-in user may decide, and a refusal is recorded in the ledger.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendDecision } from '../../cli/decide.ts';
import { progressQuery } from '../../workflows/runbook.ts';
import type { RunProgress } from '../../workflows/runbook-types.ts';
import { soon, type DashboardContext } from '../context.ts';
import { field, sendPage } from '../respond.ts';
import { timestamp } from '../views/format.ts';
import { html } from '../views/html.ts';
import { message } from '../views/layout.ts';
import { runLink } from './runs.ts';

/** Live progress of the running runs that the ledger shows waiting for approval. */
async function waitingRuns(ctx: DashboardContext): Promise<Array<{ runId: string; progress?: RunProgress; error?: string }>> {
  const { rows } = await ctx.ledger.query<{ run_id: string }>(
    `SELECT DISTINCT r.run_id, r.started_at FROM pggit_ops.steps s JOIN pggit_ops.runs r USING (run_id)
      WHERE s.status = 'waiting_approval' AND r.status = 'running' ORDER BY r.started_at`,
  );
  return Promise.all(
    rows.map(({ run_id: runId }) =>
      ctx.client.withDeadline(soon(), () => ctx.client.workflow.getHandle(runId).query(progressQuery)).then(
        (progress) => ({ runId, progress }),
        (err: unknown) => ({ runId, error: (err as Error).message }),
      ),
    ),
  );
}

export function registerApprovals(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/approvals', async (request, reply) => {
    const runs = await waitingRuns(ctx);
    const pending = runs.flatMap((r) => (r.progress?.steps ?? []).filter((s) => s.status === 'waiting_approval' && s.approval).map((step) => ({ run: r.progress!, step })));
    const unreachable = runs.filter((r) => r.error);
    return sendPage(request, reply, { title: 'Approvals', path: '/approvals' }, (csrf) => html`
${unreachable.map((r) => message('bad', `${r.runId}: cannot read its live progress from Temporal (${r.error})`))}
${pending.length ? '' : html`<p class="muted">Nothing is waiting for approval.</p>`}
${pending.map(({ run, step }) => {
  const a = step.approval!;
  const hidden = html`<input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="runId" value="${run.runId}">
<input type="hidden" name="stepId" value="${step.id}"><input type="hidden" name="requestId" value="${randomUUID()}">`;
  return html`<section class="approval" data-run="${run.runId}" data-step="${step.id}">
<h2>${step.title} <span class="muted">(${step.id})</span></h2>
<p><a href="${runLink(run.runId)}">${run.runId}</a>: ${run.runbook} on ${run.target}, started by ${run.initiator}.<br>
Needs ${a.quorum} of ${a.approvers.join(', ')}${a.deadline ? html` until ${timestamp(a.deadline)}` : ''}.
${a.decisions.length ? html`Decided so far: ${a.decisions.map((d) => `${d.decision} by ${d.approver}${d.reason ? ` (${d.reason})` : ''}`).join('; ')}.` : ''}
${a.approvers.includes(request.user!) ? '' : html`<br><span class="muted">You (${request.user}) are not among the approvers: the run will refuse your decision.</span>`}</p>
<form method="post" action="/approvals" class="inline">${hidden}<input type="hidden" name="decision" value="approve">
<input name="reason" placeholder="comment" size="30"><button>Approve</button></form>
<form method="post" action="/approvals" class="inline">${hidden}<input type="hidden" name="decision" value="reject">
<input name="reason" placeholder="reason (required)" size="30" required><button>Reject</button></form></section>`;
})}`);
  });

  app.post('/approvals', { preHandler: app.csrfProtection }, async (request, reply) => {
    const body = request.body;
    const [runId, stepId, decision, reason, requestId] = ['runId', 'stepId', 'decision', 'reason', 'requestId'].map((name) => field(body, name));
    const problem =
      !runId || !stepId || !requestId ? 'runId, stepId and requestId are required'
      : decision !== 'approve' && decision !== 'reject' ? `decision: must be approve or reject, not '${decision ?? ''}'`
      : decision === 'reject' && !reason ? 'reason: a rejection needs a reason'
      : undefined;
    if (problem) return sendPage(request, reply, { title: 'Decision not sent', status: 400 }, html`${message('bad', problem)}<p><a href="/approvals">Back to the approvals</a></p>`);
    const outcome = await sendDecision(ctx.loaded, ctx.client, { runId: runId!, stepId: stepId!, decision: decision as 'approve' | 'reject', approver: request.user!, reason, requestId: requestId! });
    const text = outcome.accepted
      ? `${decision === 'approve' ? 'Approved' : 'Rejected'} step ${stepId} of ${runId} as ${request.user}.`
      : `Refused: ${outcome.refusal}`;
    return sendPage(request, reply, { title: outcome.accepted ? 'Decision recorded' : 'Decision refused', status: outcome.accepted ? 200 : 403 }, html`
${message(outcome.accepted ? 'ok' : 'bad', text)}<p><a href="${runLink(runId!)}">The run</a> · <a href="/approvals">Back to the approvals</a></p>`);
  });
}
