// Quarterly "technology stack updates": how far the target is from what it should run. The server's
// major version against its end of life (a table in this repo: no network at run time), extensions
// against the versions the server's packages provide, pggit-ops' own migrations against this
// worker's sql/ folder.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { z } from 'zod';
import { defaultMigrationsDir } from '../../migrations.ts';
import { defineCheck, type Finding } from '../define.ts';
import { postgresMajors, type PostgresMajor } from './postgres-eol.ts';

const DAY_MS = 86_400_000;

export interface ServerVersionAssessment {
  major: string;
  minor: number;
  finalRelease: string | null;
  daysUntilEol: number | null;
  findings: Finding[];
}

/** server_version_num as PostgreSQL numbers it: 150018 is 15.18, 90624 is 9.6.24. */
function splitVersion(versionNum: number): { major: string; minor: number } {
  return versionNum >= 100_000
    ? { major: String(Math.floor(versionNum / 10_000)), minor: versionNum % 10_000 }
    : { major: `${Math.floor(versionNum / 10_000)}.${Math.floor(versionNum / 100) % 100}`, minor: versionNum % 100 };
}

/**
 * The server version against the end-of-life table, as of `today`: critical past its final
 * release, warning within `warnMonths` of it. A major the table does not know is reported, not
 * guessed at. The latest minor release cannot be known offline, so that is said, not invented.
 */
export function assessServerVersion(versionNum: number, today: Date, warnMonths = 6, majors: readonly PostgresMajor[] = postgresMajors): ServerVersionAssessment {
  const { major, minor } = splitVersion(versionNum);
  const version = `${major}.${minor}`;
  const findings: Finding[] = [];
  const known = majors.find((m) => m.major === major);
  const todayIso = today.toISOString().slice(0, 10);
  let daysUntilEol: number | null = null;
  if (known) {
    const final = new Date(`${known.finalRelease}T00:00:00Z`);
    const warnFrom = new Date(final);
    warnFrom.setUTCMonth(warnFrom.getUTCMonth() - warnMonths);
    daysUntilEol = Math.ceil((final.getTime() - today.getTime()) / DAY_MS);
    const details = { version, major, finalRelease: known.finalRelease, today: todayIso, daysUntilEol, warnMonths };
    if (todayIso > known.finalRelease) {
      findings.push({
        code: 'postgres_eol_passed',
        severity: 'critical',
        message: `PostgreSQL ${major} reached end of life with its final release on ${known.finalRelease}: no more security or bug fixes; upgrade to a supported major (pg_upgrade or dump and restore)`,
        details,
      });
    } else if (today >= warnFrom) {
      findings.push({
        code: 'postgres_eol_near',
        severity: 'warning',
        message: `PostgreSQL ${major} reaches end of life on ${known.finalRelease} (in ${daysUntilEol} days): plan the major upgrade now`,
        details,
      });
    }
  } else {
    const numeric = Number.parseFloat(major);
    const oldest = majors.at(-1)!;
    if (numeric < Number.parseFloat(oldest.major)) {
      findings.push({
        code: 'postgres_eol_passed',
        severity: 'critical',
        message: `PostgreSQL ${major} is older than every major in the end-of-life table (the oldest there, ${oldest.major}, reached end of life on ${oldest.finalRelease}): it has long been unsupported; upgrade`,
        details: { version, major, oldestKnown: oldest },
      });
    } else {
      findings.push({
        code: 'postgres_eol_unknown',
        severity: 'info',
        message: `PostgreSQL ${major} is not in the end-of-life table (activities/checks/quarterly/postgres-eol.ts): add its dates from https://www.postgresql.org/support/versioning/`,
        details: { version, major, newestKnown: majors[0]!.major },
      });
    }
  }
  findings.push({
    code: 'postgres_minor_unverified',
    severity: 'info',
    message: `running PostgreSQL ${version}; whether a newer ${major}.x minor release exists cannot be known offline: compare with https://www.postgresql.org/support/versioning/ (minor releases come at least quarterly and carry security fixes)`,
    details: { version, major, minor },
  });
  return { major, minor, finalRelease: known?.finalRelease ?? null, daysUntilEol, findings };
}

interface AppliedMigration {
  name: string;
  checksum: string;
  applied_at: string;
}

/** This worker's sql/ files with the checksum the installer records (sha256 of the bytes). */
function migrationFiles(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir)
      .filter((name) => /^\d{3}_[a-z0-9_]+\.sql$/.test(name))
      .sort()
      .map((name) => [name, createHash('sha256').update(readFileSync(path.join(dir, name))).digest('hex')]),
  );
}

/** The installer's ledger in the target against the files this worker would install. */
async function compareMigrations(
  db: pg.Client,
  target: string,
  files: Map<string, string>,
): Promise<{ files: string[]; applied: AppliedMigration[]; pending: string[]; findings: Finding[] }> {
  const install = `run pggit-ops install --db ${target}`;
  const { rows: ledger } = await db.query<{ exists: boolean }>(`SELECT to_regclass('pggit_ops.schema_migrations') IS NOT NULL AS exists`);
  if (!ledger[0]!.exists) {
    return {
      files: [...files.keys()],
      applied: [],
      pending: [...files.keys()],
      findings: [
        {
          code: 'migrations_ledger_missing',
          severity: 'warning',
          message: `pggit_ops.schema_migrations does not exist: pggit was not installed by pggit-ops, so which of its ${files.size} migrations are applied is unknown; ${install}`,
          details: { files: [...files.keys()] },
        },
      ],
    };
  }
  const { rows: applied } = await db.query<AppliedMigration>(`SELECT name, checksum, applied_at::text FROM pggit_ops.schema_migrations ORDER BY name`);
  const appliedNames = new Set(applied.map((m) => m.name));
  const pending = [...files.keys()].filter((name) => !appliedNames.has(name));
  const unknown = applied.filter((m) => !files.has(m.name)).map((m) => m.name);
  const changed = applied.filter((m) => files.has(m.name) && files.get(m.name) !== m.checksum).map((m) => ({ name: m.name, applied: m.checksum, file: files.get(m.name) }));
  const findings: Finding[] = [];
  if (pending.length > 0) {
    findings.push({
      code: 'migrations_pending',
      severity: 'warning',
      message: `${pending.length} pggit-ops migration(s) not applied: ${pending.join(', ')}; ${install}`,
      details: { pending },
    });
  }
  if (unknown.length > 0) {
    findings.push({
      code: 'migrations_unknown',
      severity: 'warning',
      message: `applied migration(s) missing from this worker's sql/ folder: ${unknown.join(', ')}: the database was upgraded by a newer pggit-ops than this worker runs`,
      details: { unknown },
    });
  }
  if (changed.length > 0) {
    findings.push({
      code: 'migrations_changed',
      severity: 'warning',
      message: `migration file(s) changed after they were applied: ${changed.map((c) => c.name).join(', ')}; install refuses to run until that is resolved`,
      details: { changed },
    });
  }
  return { files: [...files.keys()], applied, pending, findings };
}

export const techStack = defineCheck({
  name: 'techStack',
  description: 'PostgreSQL version against its end of life, extension updates, pggit-ops migrations not applied',
  kind: 'check',
  args: z
    .object({
      /** Warn this many months before the server's major version reaches end of life. */
      eol_warning_months: z.number().int().min(1).max(60).default(6),
    })
    .strict(),
  async run(ctx, args) {
    const { rows: server } = await ctx.db.query<{ version: string; num: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num`,
    );
    const assessment = assessServerVersion(Number(server[0]!.num), new Date(), args.eol_warning_months);
    const findings: Finding[] = [...assessment.findings];

    const { rows: extensions } = await ctx.db.query<{ name: string; schema: string; installed: string; available: string | null; update: string }>(`
      SELECT e.extname AS name, n.nspname AS schema, e.extversion AS installed, a.default_version AS available,
             format('ALTER EXTENSION %I UPDATE', e.extname) AS update
        FROM pg_extension e
        JOIN pg_namespace n ON n.oid = e.extnamespace
        LEFT JOIN pg_available_extensions a ON a.name = e.extname
       ORDER BY e.extname`);
    for (const e of extensions) {
      if (e.available === null) {
        findings.push({
          code: 'extension_files_missing',
          severity: 'warning',
          message: `extension ${e.name} ${e.installed} is installed but the server has no control file for it: its package is gone, so a restore or pg_upgrade onto this server fails`,
          details: e,
        });
      } else if (e.available !== e.installed) {
        findings.push({
          code: 'extension_update_available',
          severity: 'info',
          message: `extension ${e.name} is at ${e.installed}, the server's packages provide ${e.available}: ${e.update}`,
          details: e,
        });
      }
    }

    const migrations = await compareMigrations(ctx.db, ctx.target, migrationFiles(defaultMigrationsDir));
    findings.push(...migrations.findings);

    const updates = findings.filter((f) => f.code === 'extension_update_available').length;
    return {
      summary: `PostgreSQL ${server[0]!.version}${assessment.finalRelease ? ` (end of life ${assessment.finalRelease})` : ''}; ${extensions.length} extension(s), ${updates} with an update; ${migrations.files.length - migrations.pending.length} of ${migrations.files.length} migrations applied`,
      findings,
      data: {
        server: { version: server[0]!.version, major: assessment.major, minor: assessment.minor, finalRelease: assessment.finalRelease, daysUntilEol: assessment.daysUntilEol },
        extensions,
        migrations: { files: migrations.files, applied: migrations.applied, pending: migrations.pending },
      },
    };
  },
});
