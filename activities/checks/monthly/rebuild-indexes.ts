// Monthly "rebuild indexes if needed": what needs it is decided by pggit.maintenance_recommendations()
// (bloat estimate, invalid indexes), never the guide's blanket REINDEX SCHEMA, which locks out
// writes. The plan is reported before anything runs; each command then runs on its own, outside a
// transaction block (REINDEX CONCURRENTLY refuses one), and a failed build is a finding, not a crash.
import type pg from 'pg';
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { describeError, runLongStatement } from './long-statement.ts';

interface Recommendation {
  command: string | null;
  reason: string;
  priority: number;
}

// Invalid leftovers of a failed REINDEX CONCURRENTLY come as DROP INDEX CONCURRENTLY, which is how
// the PostgreSQL docs say to recover; a valid index is never dropped.
const indexCommand = /^(REINDEX INDEX CONCURRENTLY|DROP INDEX CONCURRENTLY) (.+)$/;

interface Executed {
  command: string;
  reason: string;
  ok: boolean;
  durationMs: number;
  sizeBefore: number | null;
  sizeAfter: number | null;
  error?: { message: string; sqlstate?: string };
  leftovers?: string[];
}

export const rebuildIndexes = defineCheck({
  name: 'rebuildIndexes',
  description: 'rebuilds bloated or invalid indexes with REINDEX INDEX CONCURRENTLY, as pggit.maintenance_recommendations() lists them',
  kind: 'job',
  args: z
    .object({
      /** User schemas to look at besides pggit. */
      schemas: z.array(z.string().min(1)).default([]),
      /** List what would run, run nothing. */
      dry_run: z.boolean().default(false),
      max_indexes: z.number().int().min(1).max(1000).default(10),
      /** How long one command may wait for a lock (PostgreSQL lock_timeout syntax); a wait beyond it fails that command only. */
      lock_timeout: z.string().regex(/^\d+(ms|s|min|h)$/, 'must be a PostgreSQL duration like 500ms, 30s, 5min or 1h').default('5min'),
    })
    .strict(),
  async run(ctx, args) {
    const schemas = ['pggit', ...args.schemas.filter((s) => s !== 'pggit')];
    const { rows } = await ctx.db.query<Recommendation>(`SELECT command, reason, priority FROM pggit.maintenance_recommendations($1::text[])`, [schemas]);
    const candidates = rows.filter((r): r is Recommendation & { command: string } => r.command !== null && indexCommand.test(r.command));
    const planned = candidates.slice(0, args.max_indexes);
    const deferred = candidates.slice(args.max_indexes);
    const notes = rows.filter((r) => r.command === null);
    const plan = planned.map((p) => ({ command: p.command, reason: p.reason }));

    const findings: Finding[] = notes.map((n) => ({
      code: 'index_unused',
      severity: 'info',
      message: n.reason.replace(/^note: /, ''),
      details: { reason: n.reason, action: 'review only: never dropped automatically' },
    }));
    if (planned.length > 0) {
      findings.unshift({
        code: 'reindex_plan',
        severity: 'info',
        message: `${args.dry_run ? 'would run' : 'runs'} ${planned.length} command(s): ${planned.map((p) => p.command).join('; ')}${deferred.length ? ` (${deferred.length} more beyond max_indexes=${args.max_indexes}, next run)` : ''}`,
        details: { dryRun: args.dry_run, schemas, commands: plan, deferred: deferred.map((p) => p.command) },
      });
    }
    const base = { schemas, planned: plan, deferred: deferred.map((p) => p.command), notes: notes.map((n) => n.reason) };
    if (args.dry_run || planned.length === 0) {
      return {
        summary: planned.length === 0 ? 'no index needs rebuilding' : `dry run: would run ${planned.length} command(s), ran none`,
        findings,
        data: { ...base, dryRun: args.dry_run, executed: [] },
      };
    }

    const executed: Executed[] = [];
    const { rows: before } = await ctx.db.query<{ lock_timeout: string }>(`SELECT current_setting('lock_timeout') AS lock_timeout`);
    await ctx.db.query(`SELECT set_config('lock_timeout', $1, false)`, [args.lock_timeout]);
    try {
      for (const [i, item] of planned.entries()) {
        const index = indexCommand.exec(item.command)![2]!;
        const sizeBefore = await indexSize(ctx.db, index);
        const progress = { done: i, of: planned.length };
        ctx.heartbeat({ ...progress, running: item.command });
        const started = performance.now();
        try {
          await runLongStatement(ctx, item.command, progress);
          const durationMs = Math.round(performance.now() - started);
          executed.push({ command: item.command, reason: item.reason, ok: true, durationMs, sizeBefore, sizeAfter: await indexSize(ctx.db, index) });
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          const durationMs = Math.round(performance.now() - started);
          const leftovers = await invalidIndexesBeside(ctx.db, index);
          const error = describeError(err);
          executed.push({ command: item.command, reason: item.reason, ok: false, durationMs, sizeBefore, sizeAfter: null, error, leftovers });
          findings.push({
            code: 'reindex_failed',
            severity: 'warning',
            message: `${item.command} failed: ${error.message}${leftovers.length ? `; invalid index(es) left on the table: ${leftovers.join(', ')} (the next run drops them with DROP INDEX CONCURRENTLY)` : ''}`,
            details: { command: item.command, reason: item.reason, error, leftovers, lockTimeout: args.lock_timeout },
          });
        }
      }
    } finally {
      // The connection goes back to a shared pool: leave its session as it was.
      await ctx.db.query(`SELECT set_config('lock_timeout', $1, false)`, [before[0]!.lock_timeout]);
    }

    const failed = executed.filter((e) => !e.ok).length;
    return {
      summary: `ran ${executed.length} index command(s): ${executed.length - failed} done, ${failed} failed${deferred.length ? `; ${deferred.length} left for the next run` : ''}`,
      findings,
      data: { ...base, dryRun: false, executed },
    };
  },
});

async function indexSize(db: pg.Client, index: string): Promise<number | null> {
  const { rows } = await db.query<{ size: string | null }>(`SELECT pg_relation_size(to_regclass($1)) AS size`, [index]);
  return rows[0]!.size === null ? null : Number(rows[0]!.size);
}

/** Invalid indexes on the table of `index` (a failed REINDEX CONCURRENTLY leaves its _ccnew copy). */
async function invalidIndexesBeside(db: pg.Client, index: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT i.indisvalid
        AND i.indrelid = (SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = to_regclass($1))
      ORDER BY 1`,
    [index],
  );
  return rows.map((r) => r.name);
}
