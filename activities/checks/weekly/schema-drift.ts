// Weekly: "Check for schema drift". Two kinds: changes pggit recorded since the baseline an
// operator accepted (pggit_ops.schema_baselines: full_name -> {type, version, definition_md5} of
// the live objects in pggit.objects), and changes pggit never saw because they were made while its
// event triggers were off, which only the catalog itself shows (pggit.verify_database_integrity()).
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { capped, problemCount } from '../shared.ts';

const args = z
  .object({
    /** After reporting, record the live schema as the new baseline (accepting the drift). */
    update_baseline: z.boolean().default(false),
    /** Objects named per finding (all are counted). */
    max_listed: z.number().int().positive().default(50),
  })
  .strict();

interface Entry {
  type: string;
  version: string;
  definition_md5: string;
}
type Objects = Record<string, Entry>;

interface LastChange {
  full_name: string;
  change_type: string;
  role: string;
  at: Date;
  statement: string | null;
}

const integrityChecks = ['untracked object', 'definition drift', 'missing object'];

export const schemaDrift = defineCheck({
  name: 'schemaDrift',
  description: 'The live schema against the recorded baseline, and DDL made while pggit was not tracking',
  kind: 'check',
  args,
  async run(ctx, { update_baseline, max_listed }) {
    const live = (
      await ctx.db.query<{ objects: Objects }>(
        `SELECT coalesce(jsonb_object_agg(o.full_name, jsonb_build_object(
                    'type', o.object_type,
                    'version', pggit.version_text(o.version_major, o.version_minor, o.version_patch),
                    'definition_md5', md5(coalesce(o.definition, '')))), '{}') AS objects
           FROM pggit.objects o WHERE o.is_active`,
      )
    ).rows[0]!.objects;
    // This run's own baseline is left out, so a retried step compares with what its first attempt did.
    const baseline = (
      await ctx.ledger.query<{ run_id: string | null; recorded_at: Date; objects: Objects }>(
        `SELECT b.run_id, b.recorded_at, b.objects FROM pggit_ops.schema_baselines b
          WHERE b.target = $1 AND b.run_id IS DISTINCT FROM $2
          ORDER BY b.recorded_at DESC LIMIT 1`,
        [ctx.target, ctx.runId],
      )
    ).rows[0];
    const record = () =>
      ctx.ledger.query(
        `INSERT INTO pggit_ops.schema_baselines (target, run_id, objects, recorded_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (target, run_id) DO UPDATE SET objects = excluded.objects, recorded_by = excluded.recorded_by, recorded_at = now()`,
        [ctx.target, ctx.runId, JSON.stringify(live), `pggit-ops schemaDrift, step ${ctx.stepId}`],
      );

    const findings: Finding[] = [];
    const counts = { objects: Object.keys(live).length, added: 0, removed: 0, changed: 0, untracked: 0 };
    if (!baseline) {
      await record();
      findings.push({
        code: 'baseline_recorded',
        severity: 'info',
        message: `No baseline for ${ctx.target} yet: recorded the ${counts.objects} live objects pggit tracks; drift is measured against it from the next run`,
        details: { objects: counts.objects, run_id: ctx.runId },
      });
    } else {
      const added = Object.keys(live).filter((name) => !(name in baseline.objects));
      const removed = Object.keys(baseline.objects).filter((name) => !(name in live));
      const changed = Object.keys(live).filter((name) => {
        const was = baseline.objects[name];
        return was && (was.version !== live[name]!.version || was.definition_md5 !== live[name]!.definition_md5 || was.type !== live[name]!.type);
      });
      Object.assign(counts, { added: added.length, removed: removed.length, changed: changed.length });

      // Who made each change and how, from pggit's own record (statements redacted: DDL can carry secrets).
      const last = new Map(
        (
          await ctx.db.query<LastChange>(
            `SELECT DISTINCT ON (h.full_name) h.full_name, h.change_type, h.role_name::text AS role, h.change_timestamp AS at,
                    left(pggit.redact_secrets(h.statement), 200) AS statement
               FROM pggit.history h
              WHERE h.full_name = ANY ($1) AND h.change_timestamp >= $2
              ORDER BY h.full_name, h.change_timestamp DESC, h.id DESC`,
            [[...added, ...removed, ...changed], baseline.recorded_at],
          )
        ).rows.map((r) => [r.full_name, r]),
      );
      const change = (name: string) => {
        const h = last.get(name);
        return h && { change_type: h.change_type, role: h.role, at: h.at.toISOString(), statement: h.statement };
      };
      const since = baseline.recorded_at.toISOString();
      const report = (code: string, verb: string, names: string[], describe: (name: string) => Record<string, unknown>) => {
        if (names.length === 0) return;
        const list = capped(names, max_listed);
        findings.push({
          code,
          severity: 'warning',
          message: `${names.length} objects ${verb} since the baseline of ${since}: ${list.items.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}`,
          details: { count: names.length, objects: list.items.map(describe), omitted: list.omitted, baseline_recorded_at: since, baseline_run: baseline.run_id },
        });
      };
      report('objects_added', 'added', added, (name) => ({ full_name: name, type: live[name]!.type, version: live[name]!.version, last_change: change(name) }));
      report('objects_removed', 'removed', removed, (name) => ({
        full_name: name,
        type: baseline.objects[name]!.type,
        version: baseline.objects[name]!.version,
        last_change: change(name),
      }));
      report('objects_changed', 'changed', changed, (name) => ({
        full_name: name,
        type: live[name]!.type,
        version_before: baseline.objects[name]!.version,
        version_after: live[name]!.version,
        definition_changed: baseline.objects[name]!.definition_md5 !== live[name]!.definition_md5,
        last_change: change(name),
      }));
      if (added.length + removed.length + changed.length === 0) {
        findings.push({
          code: 'schema_matches_baseline',
          severity: 'info',
          message: `The ${counts.objects} objects pggit tracks match the baseline of ${since}`,
          details: { objects: counts.objects, baseline_recorded_at: since, baseline_run: baseline.run_id },
        });
      }
    }

    ctx.heartbeat('comparing the catalog with pggit');
    const integrity = (
      await ctx.db.query<{ check_name: string; status: string; object_name: string | null; details: string }>(
        `SELECT check_name, status, object_name, details FROM pggit.verify_database_integrity()
          WHERE status <> 'OK' AND (check_name = ANY ($1) OR check_name = 'event triggers')
          ORDER BY check_name, object_name`,
        [integrityChecks],
      )
    ).rows;
    const off = integrity.filter((r) => r.check_name === 'event triggers');
    if (off.length > 0) {
      findings.push({
        code: 'tracking_off',
        severity: 'warning',
        message: `pggit is not recording DDL: ${off.map((r) => `${r.object_name}: ${r.details}`).join('; ')}`,
        details: { event_triggers: off.map((r) => ({ name: r.object_name, problem: r.details })) },
      });
    }
    const untracked = integrity.filter((r) => integrityChecks.includes(r.check_name));
    counts.untracked = untracked.length;
    if (untracked.length > 0) {
      const list = capped(untracked, max_listed);
      findings.push({
        code: 'untracked_change',
        severity: 'warning',
        message:
          `${untracked.length} catalog changes pggit did not record (DDL made while tracking was off): ` +
          `${list.items.slice(0, 5).map((r) => r.object_name).join(', ')}${untracked.length > 5 ? ', ...' : ''}; ` +
          'SELECT pggit.baseline() records untracked objects',
        details: {
          count: untracked.length,
          objects: list.items.map((r) => ({ full_name: r.object_name, check: r.check_name, problem: r.details })),
          omitted: list.omitted,
        },
      });
    }

    if (baseline && update_baseline) {
      await record();
      findings.push({
        code: 'baseline_updated',
        severity: 'info',
        message: `Recorded the ${counts.objects} live objects as the new baseline for ${ctx.target}`,
        details: { objects: counts.objects, run_id: ctx.runId },
      });
    }

    return {
      summary: `${counts.objects} tracked objects; ${counts.added} added, ${counts.removed} removed, ${counts.changed} changed since the baseline, ${counts.untracked} untracked: ${problemCount(findings)}`,
      findings,
      data: { ...counts, baseline_recorded_at: baseline?.recorded_at.toISOString() ?? null, baseline_run: baseline?.run_id ?? null },
    };
  },
});
