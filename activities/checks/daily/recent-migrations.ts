// Daily: "Review recent migration activity". What pggit.history recorded since the previous run:
// counts by change type and severity, and every breaking change (MAJOR: drops, renames, type
// changes, new NOT NULL) as a warning a person should look at. One statement touches many objects
// (DROP TABLE drops its columns, constraints and indexes too), so breaking changes are reported per
// statement, with the objects it changed.
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { problemCount, windowStart } from '../shared.ts';

const args = z
  .object({
    /** How far back to look when the runbook has no previous run. */
    window_hours: z.number().positive().default(24),
    /** Changes listed in the step's data (all are counted). */
    max_listed: z.number().int().positive().default(200),
    /** Objects named per breaking statement (all are counted). */
    max_objects: z.number().int().positive().default(20),
    /** Characters of each statement shown. */
    statement_chars: z.number().int().positive().default(300),
  })
  .strict();

interface BreakingStatement {
  transaction_id: string;
  role: string;
  at: Date;
  statement: string | null;
  dropped: boolean;
  object_count: number;
  objects: Array<{
    object_type: string;
    full_name: string;
    old_full_name: string | null;
    change_type: string;
    version_before: string | null;
    version_after: string | null;
  }>;
}

export const recentMigrations = defineCheck({
  name: 'recentMigrations',
  description: 'DDL recorded by pggit since the previous run: counts, and each breaking change (MAJOR, DROP) by statement',
  kind: 'check',
  args,
  async run(ctx, { window_hours, max_listed, max_objects, statement_chars }) {
    const since = windowStart(ctx, window_hours);

    const counts = (
      await ctx.db.query<{ change_type: string; change_severity: string; n: number }>(
        `SELECT h.change_type, h.change_severity, count(*)::int AS n
           FROM pggit.history h WHERE h.change_timestamp > $1
          GROUP BY 1, 2 ORDER BY 1, 2`,
        [since],
      )
    ).rows;
    const byType: Record<string, number> = {};
    const bySeverity: Record<string, number> = {};
    for (const c of counts) {
      byType[c.change_type] = (byType[c.change_type] ?? 0) + c.n;
      bySeverity[c.change_severity] = (bySeverity[c.change_severity] ?? 0) + c.n;
    }
    const total = counts.reduce((n, c) => n + c.n, 0);

    // BASELINE rows are pggit registering what already existed (at install, or a newly tracked
    // schema), not changes: counted above, not listed.
    const changes = (
      await ctx.db.query(
        `SELECT h.id::text AS id, h.change_timestamp AS at, h.change_type, h.change_severity, h.object_type, h.full_name,
                h.old_full_name, h.role_name::text AS role, h.version_before, h.version_after
           FROM pggit.history h
          WHERE h.change_timestamp > $1 AND h.change_type <> 'BASELINE'
          ORDER BY h.id
          LIMIT $2`,
        [since, max_listed],
      )
    ).rows;

    // Statements are redacted before they are cut: DDL such as CREATE USER MAPPING can carry a
    // password, and these excerpts end up in reports.
    const breaking = (
      await ctx.db.query<BreakingStatement>(
        `SELECT h.transaction_id::text AS transaction_id, h.role_name::text AS role, min(h.change_timestamp) AS at,
                left(pggit.redact_secrets(h.statement), $2) AS statement,
                bool_or(h.change_type = 'DROP') AS dropped,
                count(*)::int AS object_count,
                to_jsonb((array_agg(jsonb_build_object('object_type', h.object_type, 'full_name', h.full_name,
                                                       'old_full_name', h.old_full_name, 'change_type', h.change_type,
                                                       'version_before', h.version_before, 'version_after', h.version_after)
                                    ORDER BY h.id))[1:$3]) AS objects
           FROM pggit.history h
          WHERE h.change_timestamp > $1 AND (h.change_severity = 'MAJOR' OR h.change_type = 'DROP')
          GROUP BY h.transaction_id, h.role_name, h.statement
          ORDER BY min(h.id)`,
        [since, statement_chars, max_objects],
      )
    ).rows;

    const findings: Finding[] = breaking.map((b) => {
      const first = b.objects[0]!;
      const others = b.object_count - 1;
      return {
        code: b.dropped ? 'object_dropped' : 'major_change',
        severity: 'warning',
        message:
          `${b.role} ${b.dropped ? 'dropped' : 'made a breaking change to'} ${first.object_type} ${first.full_name}` +
          `${others > 0 ? ` and ${others} more object${others === 1 ? '' : 's'}` : ''} at ${b.at.toISOString()}: ` +
          (b.statement ?? '(statement not recorded)'),
        details: {
          role: b.role,
          at: b.at.toISOString(),
          transaction_id: b.transaction_id,
          statement: b.statement,
          object_count: b.object_count,
          objects: b.objects,
        },
      };
    });

    const major = bySeverity.MAJOR ?? 0;
    const drops = byType.DROP ?? 0;
    return {
      summary: `${total} changes since ${since.toISOString()} (${major} MAJOR, ${drops} drops): ${problemCount(findings)}`,
      findings,
      data: {
        since: since.toISOString(),
        total,
        by_change_type: byType,
        by_severity: bySeverity,
        changes: changes.map((c) => ({ ...c, at: (c.at as Date).toISOString() })),
        changes_omitted: Math.max(0, total - (byType.BASELINE ?? 0) - changes.length),
        breaking_statements: breaking.length,
      },
    };
  },
});
