// Retention: of each target's succeeded backups, per kind (a pggit-only backup never stands in for
// a full one), keep the newest of each of the last N calendar days, weeks and months (UTC; weeks
// start on Monday) as config backups.retention says, and always the newest verified one, the
// backup a restore is known to work from. Everything else is deleted: files first, then the row
// marked 'deleted', so a crash in between leaves a row that the next run deletes again.
import { z } from 'zod';
import type { Config } from '../../worker/config.ts';
import { recordColumns, toRecord, type BackupContext, type BackupKind, type CatalogRow } from './catalog.ts';
import { backupPaths, removeBackupFiles, storeDir } from './store.ts';

export type Retention = Config['backups']['retention'];

export interface RetentionCandidate {
  backupId: string;
  /** ISO time. */
  startedAt: string;
  verified: boolean;
}

const DAY_MS = 86_400_000;
const dayIndex = (t: Date) => Math.floor(t.getTime() / DAY_MS);
/** Weeks since the Monday before the epoch (1970-01-01 was a Thursday, 3 days after a Monday). */
const weekIndex = (t: Date) => Math.floor((dayIndex(t) + 3) / 7);
const monthIndex = (t: Date) => t.getUTCFullYear() * 12 + t.getUTCMonth();

/** Which backups (of one target and kind) the policy keeps at `now`; both lists newest first. */
export function selectRetained(backups: readonly RetentionCandidate[], retention: Retention, now: Date | string): { kept: string[]; deleted: string[] } {
  const at = new Date(now);
  if (Number.isNaN(at.getTime())) throw new Error(`now=${String(now)}: not a time`);
  const newestFirst = [...backups].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  const kept = new Set<string>();
  const rules: Array<[number, (t: Date) => number]> = [
    [retention.daily, dayIndex],
    [retention.weekly, weekIndex],
    [retention.monthly, monthIndex],
  ];
  for (const [count, bucketOf] of rules) {
    const filled = new Set<number>();
    for (const b of newestFirst) {
      const age = bucketOf(at) - bucketOf(new Date(b.startedAt));
      if (age < 0 || age >= count || filled.has(age)) continue;
      filled.add(age);
      kept.add(b.backupId);
    }
  }
  // A backup from after `now` (a clock ahead, or a `now` from the past) cannot be placed in a
  // bucket; deleting it would be a guess.
  for (const b of newestFirst) if (Date.parse(b.startedAt) > at.getTime()) kept.add(b.backupId);
  const newestVerified = newestFirst.find((b) => b.verified);
  if (newestVerified) kept.add(newestVerified.backupId);
  return {
    kept: newestFirst.filter((b) => kept.has(b.backupId)).map((b) => b.backupId),
    deleted: newestFirst.filter((b) => !kept.has(b.backupId)).map((b) => b.backupId),
  };
}

const retentionInput = z.object({ target: z.string().min(1), now: z.iso.datetime({ offset: true }).optional() }).strict();

/** Applies the retention policy to a target's backups; running it again deletes nothing more. */
export async function applyRetention(ctx: BackupContext, input: { target: string; now?: string }): Promise<{ kept: string[]; deleted: string[] }> {
  const { target, now = new Date().toISOString() } = retentionInput.parse(input);
  const store = storeDir(ctx.config, ctx.baseDir);
  return ctx.pools.withLedger(async (db) => {
    // The rows stay locked until the deletions are recorded, so a verification finishing meanwhile
    // cannot make a backup this run is deleting the newest verified one. On an error the pool
    // discards the connection, and the transaction with it.
    await db.query('BEGIN');
    const { rows } = await db.query<CatalogRow>(
      `SELECT ${recordColumns} FROM pggit_ops.backups WHERE target = $1 AND status = 'succeeded' ORDER BY started_at DESC FOR UPDATE`,
      [target],
    );
    const records = rows.map(toRecord);
    const result = { kept: [] as string[], deleted: [] as string[] };
    for (const kind of ['full', 'pggit'] satisfies BackupKind[]) {
      const selection = selectRetained(
        records.filter((r) => r.kind === kind),
        ctx.config.backups.retention,
        now,
      );
      result.kept.push(...selection.kept);
      for (const backupId of selection.deleted) {
        // Cancelled: stop deleting, but record what is already gone.
        if (ctx.signal.aborted) break;
        await removeBackupFiles(backupPaths(store, records.find((r) => r.backupId === backupId)!));
        await db.query(`UPDATE pggit_ops.backups SET status = 'deleted' WHERE backup_id = $1`, [backupId]);
        ctx.heartbeat({ phase: 'retention', target, deleted: backupId });
        result.deleted.push(backupId);
      }
    }
    await db.query('COMMIT');
    ctx.signal.throwIfAborted();
    return result;
  });
}
