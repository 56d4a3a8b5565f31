// Daily: "Verify backup completion", from the backup catalog in the ledger (pggit_ops.backups,
// sql/007: one row per backup attempt of a target, written by activities/backup/). A ledger that
// predates the catalog records no backups, and this step says so every day rather than passing:
// an unverified backup is the failure nobody notices.
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { problemCount, round } from '../shared.ts';

const args = z
  .object({
    /** The newest successful backup may be at most this old (a daily backup plus some slack). */
    max_age_hours: z.number().positive().default(26),
  })
  .strict();

interface Backup {
  started_at: Date;
  finished_at: Date | null;
  status: string;
  verified: boolean | null;
  age_hours: number;
}

const evidence = (b: Backup) => ({
  started_at: b.started_at.toISOString(),
  finished_at: b.finished_at?.toISOString() ?? null,
  status: b.status,
  verified: b.verified,
  age_hours: round(b.age_hours, 1),
});

export const backupStatus = defineCheck({
  name: 'backupStatus',
  description: "The target's newest backup in the ledger's backup catalog: present, succeeded, verified and recent enough",
  kind: 'check',
  args,
  async run(ctx, { max_age_hours }) {
    const catalog = (
      await ctx.ledger.query<{ present: boolean; database: string }>(
        `SELECT to_regclass('pggit_ops.backups') IS NOT NULL AS present, current_database() AS database`,
      )
    ).rows[0]!;
    if (!catalog.present) {
      return {
        summary: 'no backup catalog: backups not verified',
        findings: [
          {
            code: 'no_backup_catalog',
            severity: 'warning',
            message: 'no backup catalog yet: backups are not verified by pggit-ops',
            details: { expected_table: 'pggit_ops.backups', ledger_database: catalog.database, target: ctx.target },
          },
        ],
        data: { catalog: false },
      };
    }

    // Only the columns the catalog promises are read, so it may grow others without breaking this.
    const newest = async (onlySucceeded: boolean): Promise<Backup | undefined> =>
      (
        await ctx.ledger.query<Backup>(
          `SELECT b.started_at, b.finished_at, b.status, b.verified,
                  extract(epoch FROM now() - coalesce(b.finished_at, b.started_at))::float8 / 3600 AS age_hours
             FROM pggit_ops.backups b
            WHERE b.target = $1 AND (NOT $2 OR b.status = 'succeeded')
            ORDER BY b.started_at DESC
            LIMIT 1`,
          [ctx.target, onlySucceeded],
        )
      ).rows[0];
    const latest = await newest(false);
    const good = await newest(true);

    const findings: Finding[] = [];
    if (!latest) {
      findings.push({
        code: 'no_backup',
        severity: 'critical',
        message: `No backup of ${ctx.target} is recorded in pggit_ops.backups`,
        details: { target: ctx.target },
      });
    } else if (!good) {
      findings.push({
        code: 'no_successful_backup',
        severity: 'critical',
        message: `No backup of ${ctx.target} ever succeeded; the newest attempt (${latest.started_at.toISOString()}) is ${latest.status}`,
        details: { target: ctx.target, latest: evidence(latest) },
      });
    } else {
      if (good.age_hours > max_age_hours) {
        findings.push({
          code: 'backup_stale',
          severity: 'critical',
          message: `The newest successful backup of ${ctx.target} is ${round(good.age_hours, 1)} h old (limit ${max_age_hours} h)`,
          details: { target: ctx.target, max_age_hours, backup: evidence(good) },
        });
      }
      if (good.verified !== true) {
        findings.push({
          code: 'backup_unverified',
          severity: 'warning',
          message: `The newest successful backup of ${ctx.target} (${good.started_at.toISOString()}) has not been verified by a restore`,
          details: { target: ctx.target, backup: evidence(good) },
        });
      }
      if (latest.status !== 'succeeded' && latest.started_at > good.started_at) {
        const running = latest.finished_at === null && latest.status !== 'failed';
        findings.push({
          code: running ? 'backup_in_progress' : 'backup_failed',
          severity: running ? 'info' : 'warning',
          message: running
            ? `A backup of ${ctx.target} started ${latest.started_at.toISOString()} is ${latest.status}`
            : `The newest backup attempt of ${ctx.target} (${latest.started_at.toISOString()}) ended ${latest.status}`,
          details: { target: ctx.target, latest: evidence(latest), last_success: evidence(good) },
        });
      }
      if (!findings.some((f) => f.severity !== 'info')) {
        findings.push({
          code: 'backup_ok',
          severity: 'info',
          message: `Newest backup of ${ctx.target} succeeded and was verified ${round(good.age_hours, 1)} h ago`,
          details: { target: ctx.target, max_age_hours, backup: evidence(good) },
        });
      }
    }

    return {
      summary: `newest backup ${latest ? `${latest.status} at ${latest.started_at.toISOString()}` : 'none'}: ${problemCount(findings)}`,
      findings,
      data: { catalog: true, latest: latest && evidence(latest), last_success: good && evidence(good), max_age_hours },
    };
  },
});
