// Backups and restore drills: the catalog (pggit_ops.backups) and the drill steps' results in the
// ledger (pass, RTO, RPO), newest first, with the age of each target's newest verified backup.
import type { FastifyInstance } from 'fastify';
import type { DashboardContext } from '../context.ts';
import { drillResultsSql, lastVerifiedBackupSql, type DrillRow } from '../ledger-queries.ts';
import { sendPage } from '../respond.ts';
import { age, bytes, duration, timestamp } from '../views/format.ts';
import { html } from '../views/html.ts';
import { statusText } from '../views/layout.ts';
import { runLink } from './runs.ts';

export function registerBackups(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/backups', async (request, reply) => {
    const latest = (await ctx.ledger.query<{ target: string; finished_at: Date }>(`${lastVerifiedBackupSql} ORDER BY target`)).rows;
    const backups = (
      await ctx.ledger.query(
        `SELECT backup_id, target, kind, format, status, verified, verified_at, size_bytes::float8 AS size_bytes,
                duration_ms::float8 AS duration_ms, started_at, error
           FROM pggit_ops.backups WHERE status <> 'deleted' ORDER BY started_at DESC LIMIT 100`,
      )
    ).rows;
    const drills = (await ctx.ledger.query<DrillRow>(`${drillResultsSql} ORDER BY s.finished_at DESC LIMIT 50`)).rows;
    return sendPage(request, reply, { title: 'Backups & drills', path: '/backups' }, html`
<h2>Newest verified full backup per target</h2>
${latest.length ? html`<table><tr><th>target</th><th>finished</th><th>age</th></tr>
${latest.map((l) => html`<tr><td>${l.target}</td><td>${timestamp(l.finished_at)}</td><td>${age(l.finished_at)}</td></tr>`)}</table>` : html`<p class="muted">No verified backup yet: <code>pggit-ops backup --db TARGET</code>.</p>`}
<h2>Restore drills</h2>
${drills.length ? html`<table><tr><th>finished</th><th>target</th><th>result</th><th>RTO</th><th>RPO</th><th>backup</th><th>run</th></tr>
${drills.map((d) => html`<tr><td title="${timestamp(d.finished_at)}">${age(d.finished_at)}</td><td>${d.target}</td>
<td>${statusText(d.pass ? 'pass' : 'fail')}${d.error ? `: ${d.error}` : ''}</td><td>${d.rto_seconds === null ? '' : duration(d.rto_seconds * 1000)}</td>
<td>${d.rpo_seconds === null ? '' : duration(d.rpo_seconds * 1000)}</td><td>${d.backup_id ?? ''}</td><td><a href="${runLink(d.run_id)}">${d.run_id}</a></td></tr>`)}</table>` : html`<p class="muted">No drill yet: <code>pggit-ops drill --db TARGET</code>.</p>`}
<h2>Backups</h2>
<table><tr><th>started</th><th>backup</th><th>target</th><th>kind</th><th>status</th><th>verified</th><th>size</th><th>took</th></tr>
${backups.map((b) => html`<tr><td title="${timestamp(b.started_at)}">${age(b.started_at)}</td><td>${b.backup_id}</td><td>${b.target}</td><td>${b.kind} (${b.format})</td>
<td>${statusText(b.status)}${b.error ? `: ${b.error}` : ''}</td><td>${b.verified ? `yes, ${age(b.verified_at)}` : 'no'}</td><td>${bytes(b.size_bytes)}</td><td>${duration(b.duration_ms)}</td></tr>`)}</table>`);
  });
}
