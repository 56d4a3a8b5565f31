// What several checklist items share: the period a run reviews, the ledger's point-in-time
// snapshots (pggit_ops.stat_snapshots) that trends are measured against, and report wording.
import type { CheckContext, Finding } from './define.ts';

/** Start of the period a run reviews: the previous run of the runbook, else the last `hours`. */
export function windowStart(ctx: CheckContext, hours: number): Date {
  return ctx.previousRunAt ?? new Date(Date.now() - hours * 3_600_000);
}

export type Metrics = Record<string, unknown>;

export interface Snapshot {
  runId: string;
  takenAt: Date;
  /** Metrics by name (a function's or table's identity, a database name). */
  rows: Map<string, Metrics>;
}

/**
 * Stores this step's snapshot of `kind`: afterwards the run holds exactly `rows` for it, so a retried
 * activity replaces what an earlier attempt wrote instead of adding to it. Returns when it was taken
 * (the ledger's clock, the one earlier snapshots were taken by).
 */
export async function saveSnapshot(ctx: CheckContext, kind: string, rows: Array<{ name: string; metrics: Metrics }>): Promise<Date> {
  const { rows: saved } = await ctx.ledger.query<{ taken_at: Date }>(
    `WITH fresh AS (
         SELECT x.name, x.metrics FROM jsonb_to_recordset($4::jsonb) AS x(name text, metrics jsonb)
     ), stale AS (
         DELETE FROM pggit_ops.stat_snapshots s
          WHERE s.run_id = $2 AND s.kind = $3 AND s.name NOT IN (SELECT name FROM fresh)
     )
     INSERT INTO pggit_ops.stat_snapshots AS s (target, run_id, kind, name, metrics)
     SELECT $1, $2, $3, f.name, f.metrics FROM fresh f
     ON CONFLICT (run_id, kind, name) DO UPDATE SET target = excluded.target, metrics = excluded.metrics, taken_at = excluded.taken_at
     RETURNING s.taken_at`,
    [ctx.target, ctx.runId, kind, JSON.stringify(rows)],
  );
  return saved[0]?.taken_at ?? (await ctx.ledger.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
}

/**
 * The newest snapshot of `kind` (optionally of one `name`) for this target from another run; this
 * run's own rows are left out, so a retried step compares with the same past as its first attempt.
 */
export async function previousSnapshot(ctx: CheckContext, kind: string, name?: string): Promise<Snapshot | undefined> {
  const { rows } = await ctx.ledger.query<{ run_id: string; taken_at: Date; name: string; metrics: Metrics }>(
    `WITH last AS (
         SELECT s.run_id FROM pggit_ops.stat_snapshots s
          WHERE s.target = $1 AND s.kind = $2 AND s.run_id <> $3 AND ($4::text IS NULL OR s.name = $4)
          ORDER BY s.taken_at DESC LIMIT 1
     )
     SELECT s.run_id, s.taken_at, s.name, s.metrics
       FROM pggit_ops.stat_snapshots s JOIN last USING (run_id)
      WHERE s.target = $1 AND s.kind = $2 AND ($4::text IS NULL OR s.name = $4)`,
    [ctx.target, kind, ctx.runId, name ?? null],
  );
  const first = rows[0];
  if (!first) return undefined;
  return {
    runId: first.run_id,
    takenAt: first.taken_at,
    rows: new Map(rows.map((r) => [r.name, r.metrics])),
  };
}

/** The first `max` items, and how many were left out (findings carry evidence, not whole catalogs). */
export function capped<T>(items: readonly T[], max: number): { items: T[]; omitted: number } {
  return { items: items.slice(0, max), omitted: Math.max(0, items.length - max) };
}

/** "1 critical, 2 warnings" for a summary line, or "no problems". */
export function problemCount(findings: readonly Finding[]): string {
  const critical = findings.filter((f) => f.severity === 'critical').length;
  const warning = findings.filter((f) => f.severity === 'warning').length;
  const parts = [
    ...(critical ? [`${critical} critical`] : []),
    ...(warning ? [`${warning} warning${warning === 1 ? '' : 's'}`] : []),
  ];
  return parts.length ? parts.join(', ') : 'no problems';
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Bytes as a person reads them (1536 → "1.5 kB"), as pg_size_pretty does. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(round(value, 1)) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : round(value, 1)} ${units[unit]}`;
}
