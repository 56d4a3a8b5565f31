// Monthly "clean old history records": the guide's single DELETE, done as pggit's batched cleanup
// driven from here, so every batch is its own short autocommit transaction, progress is
// heartbeated between batches and a cancelled step stops after the batch in flight.
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { runLongStatement } from './long-statement.ts';

export const cleanHistory = defineCheck({
  name: 'cleanHistory',
  description: 'deletes pggit.history older than the retention in short batches, then VACUUM (ANALYZE) pggit.history',
  kind: 'job',
  args: z
    .object({
      /** Default: pggit.settings.retention_days. */
      retention_days: z.number().int().min(1).optional(),
      /** Rows per batch (one transaction each). Default: pggit.settings.batch_size. */
      batch_size: z.number().int().min(1).max(100_000).optional(),
      /** Stop deleting after this long; what is left waits for the next run. */
      max_seconds: z.number().positive().optional(),
    })
    .strict(),
  async run(ctx, args) {
    const { rows: settings } = await ctx.db.query<{ retention_days: number; batch_size: number }>(
      `SELECT retention_days, batch_size FROM pggit.settings`,
    );
    const retentionDays = args.retention_days ?? settings[0]?.retention_days ?? 90;
    const batchSize = args.batch_size ?? settings[0]?.batch_size ?? 1000;
    const countExpired = async () =>
      Number(
        (await ctx.db.query<{ n: string }>(`SELECT count(*) AS n FROM pggit.history WHERE change_timestamp < now() - make_interval(days => $1)`, [retentionDays]))
          .rows[0]!.n,
      );
    const expired = await countExpired();

    const started = performance.now();
    let deleted = 0;
    let batches = 0;
    let outOfTime = false;
    for (;;) {
      ctx.signal.throwIfAborted();
      if (args.max_seconds !== undefined && performance.now() - started >= args.max_seconds * 1000) {
        outOfTime = true;
        break;
      }
      const { rows } = await ctx.db.query<{ n: string }>(`SELECT pggit.cleanup_history_batch($1, $2) AS n`, [retentionDays, batchSize]);
      const n = Number(rows[0]!.n);
      if (n === 0) break;
      deleted += n;
      batches += 1;
      ctx.heartbeat({ phase: 'delete', batches, rowsDeleted: deleted, rowsExpired: expired });
    }
    const deleteSeconds = (performance.now() - started) / 1000;
    const rowsPerSecond = deleteSeconds > 0 ? Math.round(deleted / deleteSeconds) : deleted;

    const vacuumMs = await runLongStatement(ctx, 'VACUUM (ANALYZE) pggit.history', { phase: 'vacuum', rowsDeleted: deleted });

    const evidence = { rowsDeleted: deleted, batches, retentionDays, batchSize, deleteSeconds: Number(deleteSeconds.toFixed(3)), rowsPerSecond, vacuumMs };
    const findings: Finding[] = [
      {
        code: 'history_cleaned',
        severity: 'info',
        message: `deleted ${deleted} history rows older than ${retentionDays} days in ${batches} batches of at most ${batchSize}, then vacuumed pggit.history`,
        details: evidence,
      },
    ];
    let remaining = 0;
    if (outOfTime) {
      remaining = await countExpired();
      findings.push({
        code: 'time_budget_reached',
        severity: 'warning',
        message: `stopped after the ${args.max_seconds}s budget with ${remaining} rows older than ${retentionDays} days still to delete; the next run continues`,
        details: { maxSeconds: args.max_seconds, rowsRemaining: remaining, rowsDeleted: deleted },
      });
    }
    return {
      summary: `deleted ${deleted} history rows (${rowsPerSecond} rows/s)${outOfTime ? `, stopped on the time budget with ${remaining} left` : ''}; pggit.history vacuumed`,
      findings,
      data: { ...evidence, rowsExpiredBefore: expired, stoppedOnTimeBudget: outOfTime, rowsRemaining: remaining },
    };
  },
});
