// Capacity: per target, pggit's size and history rows as the daily checklist measured them
// (storageGrowth's snapshots in the ledger), and the weekly capacity projection (6 and 12 months)
// drawn on from the newest measurement.
import type { FastifyInstance } from 'fastify';
import type { DashboardContext } from '../context.ts';
import { sendPage } from '../respond.ts';
import { bytes, timestamp } from '../views/format.ts';
import { html } from '../views/html.ts';
import { lineChart, type Series } from '../views/chart.ts';

interface Snapshot { target: string; taken_at: Date; pggit_bytes: number; history_rows: number }
interface Projection {
  target: string; finished_at: Date; pggit_bytes: number; projected_6_months_bytes: number; projected_1_year_bytes: number;
  confidence: string; basis: string;
}

const dayMs = 86_400_000;

export function registerCapacity(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/capacity', async (request, reply) => {
    const snapshots = (
      await ctx.ledger.query<Snapshot>(
        `SELECT target, taken_at, (metrics->>'pggit_bytes')::float8 AS pggit_bytes, (metrics->>'history_rows')::float8 AS history_rows
           FROM pggit_ops.stat_snapshots WHERE kind = 'database' AND taken_at > now() - interval '180 days' ORDER BY target, taken_at`,
      )
    ).rows;
    const projections = (
      await ctx.ledger.query<Projection>(
        `SELECT DISTINCT ON (r.target) r.target, s.finished_at, (s.data->>'pggit_bytes')::float8 AS pggit_bytes,
                (s.data->>'projected_6_months_bytes')::float8 AS projected_6_months_bytes,
                (s.data->>'projected_1_year_bytes')::float8 AS projected_1_year_bytes, s.data->>'confidence' AS confidence, s.data->>'basis' AS basis
           FROM pggit_ops.steps s JOIN pggit_ops.runs r USING (run_id)
          WHERE s.activity = 'capacityProjection' AND s.status = 'succeeded' AND s.data IS NOT NULL
          ORDER BY r.target, s.finished_at DESC`,
      )
    ).rows;
    const targets = [...new Set([...snapshots.map((s) => s.target), ...projections.map((p) => p.target)])].sort();
    return sendPage(request, reply, { title: 'Capacity', path: '/capacity' }, html`
${targets.length ? '' : html`<p class="muted">No measurements yet: the daily checklist's storage step and the weekly capacity projection fill this page.</p>`}
${targets.map((target) => {
  const mine = snapshots.filter((s) => s.target === target);
  const projection = projections.find((p) => p.target === target);
  const storage: Series[] = [{ label: 'pggit storage', points: mine.map((s) => ({ at: s.taken_at, value: s.pggit_bytes })) }];
  if (projection) {
    const from = projection.finished_at.getTime();
    storage.push({
      label: `projection (${projection.confidence})`,
      dashed: true,
      points: [
        { at: projection.finished_at, value: projection.pggit_bytes },
        { at: new Date(from + 182.5 * dayMs), value: projection.projected_6_months_bytes },
        { at: new Date(from + 365 * dayMs), value: projection.projected_1_year_bytes },
      ],
    });
  }
  return html`<section class="capacity" data-target="${target}"><h2>${target}</h2>
<h3>pggit storage, measured and projected</h3>${lineChart(storage, bytes)}
${projection ? html`<p>${bytes(projection.pggit_bytes)} on ${timestamp(projection.finished_at)}; ${bytes(projection.projected_6_months_bytes)} in 6 months,
${bytes(projection.projected_1_year_bytes)} in 12 months (confidence ${projection.confidence}: ${projection.basis}).</p>` : html`<p class="muted">No capacity projection yet (weekly checklist).</p>`}
<h3>History records</h3>${lineChart([{ label: 'pggit.history rows', points: mine.map((s) => ({ at: s.taken_at, value: s.history_rows })) }], (v) => String(Math.round(v)))}
</section>`;
})}`);
  });
}
