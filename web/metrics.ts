// Prometheus metrics, gathered at each scrape: the guide's pggit metrics of every target
// (pggit.metrics_for_grafana(), read with short timeouts: a target that cannot be read is
// pggit_target_up 0, never a failed scrape) and the operations state from the ledger.
import pg from 'pg';
import { Gauge, Histogram, Registry } from 'prom-client';
import { connectionConfig } from '../activities/targets.ts';
import { targets } from '../worker/config.ts';
import type { DashboardContext } from './context.ts';
import { drillResultsSql, lastVerifiedBackupSql, type DrillRow } from './ledger-queries.ts';

/** The rows of pggit.metrics_for_grafana() exported, with their help text. */
const guideMetrics: Record<string, string> = {
  pggit_objects_tracked: 'Objects pggit tracks (pggit.objects)',
  pggit_objects_active: 'Tracked objects that still exist',
  pggit_history_records: 'Rows in pggit.history',
  pggit_history_records_24h: 'History rows written in the last 24 hours',
  pggit_storage_mb: "pggit's tables and indexes, in MB",
  pggit_storage_percent: "pggit's share of the database size, in percent",
  pggit_tracking_errors_24h: 'DDL tracking errors in the last 24 hours',
  pggit_event_triggers_enabled: "pggit's enabled event triggers",
  pggit_dead_tuples: "Dead tuples in pggit's tables",
};

/** A scrape waits this long at most for each target. */
const targetTimeoutMs = 3000;

async function readTarget(ctx: DashboardContext, target: string): Promise<Array<{ metric_name: string; metric_value: string }>> {
  const client = new pg.Client({
    ...connectionConfig(ctx.loaded.config, target),
    connectionTimeoutMillis: targetTimeoutMs,
    statement_timeout: targetTimeoutMs,
    query_timeout: targetTimeoutMs,
  });
  client.on('error', () => undefined); // a connection lost after the scrape is of no interest
  try {
    await client.connect();
    return (await client.query('SELECT metric_name, metric_value FROM pggit.metrics_for_grafana()')).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function createMetrics(ctx: DashboardContext) {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const targetUp = gauge('pggit_target_up', '1 when the target answered pggit.metrics_for_grafana() within the timeout', ['target']);
  const guide = Object.fromEntries(Object.entries(guideMetrics).map(([name, help]) => [name, gauge(name, help, ['target'])]));
  const ledgerUp = gauge('pggit_ops_ledger_up', '1 when the ledger could be read', []);
  const runs = gauge('pggit_ops_runs', 'Runs in the ledger by runbook and outcome', ['runbook', 'status']);
  const pending = gauge('pggit_ops_pending_approvals', 'Steps of running runs waiting for approval', ['target']);
  const backupAge = gauge('pggit_ops_last_verified_backup_age_seconds', 'Age of the newest verified full backup', ['target']);
  const drillPass = gauge('pggit_ops_last_drill_pass', '1 when the last restore drill passed, 0 when it failed', ['target']);
  const drillRto = gauge('pggit_ops_last_drill_rto_seconds', 'Restore time (RTO) of the last restore drill', ['target']);
  const drillRpo = gauge('pggit_ops_last_drill_rpo_seconds', 'Backup age (RPO) at the last restore drill', ['target']);
  const drillAt = gauge('pggit_ops_last_drill_timestamp_seconds', 'When the last restore drill finished (Unix time)', ['target']);
  const undelivered = gauge('pggit_ops_notifications_failed', 'Notifications that could not be delivered after their retries', ['webhook']);
  const stepDuration = new Histogram({
    name: 'pggit_ops_step_duration_seconds',
    help: "Step durations as the ledger records them (a gated step's includes its wait for approval)",
    labelNames: ['runbook', 'activity', 'status'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400],
    registers: [registry],
  });
  // Steps are observed once each: every scrape adds those that finished since the previous one
  // (microseconds since the epoch, the ledger's own precision).
  let observedUntil = '0';

  async function collectTargets(): Promise<void> {
    for (const g of [targetUp, ...Object.values(guide)]) g.reset();
    await Promise.all(
      Object.keys(targets(ctx.loaded.config)).map(async (target) => {
        const rows = await readTarget(ctx, target).catch(() => undefined);
        targetUp.set({ target }, rows ? 1 : 0);
        for (const r of rows ?? []) guide[r.metric_name]?.set({ target }, Number(r.metric_value));
      }),
    );
  }

  async function collectLedger(): Promise<void> {
    const db = ctx.ledger;
    for (const g of [runs, pending, backupAge, drillPass, drillRto, drillRpo, drillAt, undelivered]) g.reset();
    for (const r of (await db.query('SELECT runbook, status, count(*)::int AS n FROM pggit_ops.runs GROUP BY 1, 2')).rows) runs.set({ runbook: r.runbook, status: r.status }, r.n);
    const waiting = await db.query(
      `SELECT r.target, count(*)::int AS n FROM pggit_ops.steps s JOIN pggit_ops.runs r USING (run_id)
        WHERE s.status = 'waiting_approval' AND r.status = 'running' GROUP BY 1`,
    );
    for (const r of waiting.rows) pending.set({ target: r.target }, r.n);
    const backups = await db.query<{ target: string; age: number }>(`SELECT target, extract(epoch FROM now() - finished_at)::float8 AS age FROM (${lastVerifiedBackupSql}) b`);
    for (const b of backups.rows) backupAge.set({ target: b.target }, b.age);
    const drills = await db.query<DrillRow>(`SELECT DISTINCT ON (target) * FROM (${drillResultsSql}) d ORDER BY target, finished_at DESC`);
    for (const d of drills.rows) {
      drillPass.set({ target: d.target }, d.pass ? 1 : 0);
      drillAt.set({ target: d.target }, d.finished_at.getTime() / 1000);
      if (d.rto_seconds !== null) drillRto.set({ target: d.target }, d.rto_seconds);
      if (d.rpo_seconds !== null) drillRpo.set({ target: d.target }, d.rpo_seconds);
    }
    for (const n of (await db.query(`SELECT webhook, count(*)::int AS n FROM pggit_ops.notifications WHERE status = 'failed' GROUP BY 1`)).rows) {
      undelivered.set({ webhook: n.webhook }, n.n);
    }
    const finished = await db.query<{ runbook: string; activity: string; status: string; seconds: number; mark: string }>(
      `SELECT r.runbook, s.activity, s.status, s.duration_ms::float8 / 1000 AS seconds,
              (extract(epoch FROM s.finished_at) * 1e6)::bigint::text AS mark
         FROM pggit_ops.steps s JOIN pggit_ops.runs r USING (run_id)
        WHERE s.activity IS NOT NULL AND s.duration_ms IS NOT NULL
          AND (extract(epoch FROM s.finished_at) * 1e6)::bigint > $1::bigint
        ORDER BY s.finished_at`,
      [observedUntil],
    );
    for (const s of finished.rows) stepDuration.observe({ runbook: s.runbook, activity: s.activity, status: s.status }, s.seconds);
    observedUntil = finished.rows.at(-1)?.mark ?? observedUntil;
  }

  return {
    contentType: registry.contentType,
    /** Reads everything afresh and returns the exposition text. */
    async scrape(): Promise<string> {
      const [, ledger] = await Promise.allSettled([collectTargets(), collectLedger()]);
      ledgerUp.set(ledger.status === 'fulfilled' ? 1 : 0);
      return registry.metrics();
    },
  };
}
