// The proof that a restored backup is a usable copy of its source, run on the drill's scratch
// database: pggit's own integrity check and the guide's missing-dependency query, the schema and
// the data compared with the source (schema dumps, exact row counts, content checksums), and
// pg_amcheck on tables and indexes. The one change made to the scratch database, installing amcheck
// when the copy lacks it, comes last and is undone, so a retried proof compares the copy as restored.
//
// The source is compared as it is now, so changes it received after the backup was taken show up
// as differences: drill with a fresh backup, or read a difference next to the backup's age.
//
// A recovery's proof (proveRecovered) has no source to compare with, since the restored database
// replaced it: the same pggit checks, and the schema compared with the backup's own.
import { accessSync, constants } from 'node:fs';
import type pg from 'pg';
import { pgBin } from '../../worker/tools.ts';
import type { Finding, Severity } from '../checks/define.ts';
import { capped, formatBytes } from '../checks/shared.ts';
import { pgToolEnv, runPgTool, withSession, type DbRef, type DrContext, type ToolRun } from './pg-tools.ts';
import type { ArchiveContents, BackupFile } from './restore.ts';
import { assertScratch, type ScratchDatabase } from './scratch.ts';

/** pggit-ops' own ledger: the drill's run writes to it while comparing, so its rows always differ. */
const DATA_EXCLUDED_SCHEMAS = ['pggit_ops'];
/** Findings listed one per table or object, at most; the rest go into one more finding. */
const MAX_TABLE_FINDINGS = 20;

export interface ProofMeasurements {
  integrityMs: number;
  schemaMs: number;
  dataMs: number;
  amcheckMs: number;
  /** Tables compared (either side). */
  tables: number;
  rowsInSource: number;
  checksummedTables: number;
  checksumMaxTableBytes: number;
  /** Schemas whose tables are left out of the row and checksum comparison (their DDL is still compared). */
  dataExcludedSchemas: string[];
  amcheck: 'passed' | 'failed' | 'unavailable';
}

export interface ProofResult {
  /** No critical finding. */
  pass: boolean;
  findings: Finding[];
  measurements: ProofMeasurements;
}

/** What a restored database is compared with: the database it was dumped from, or the backup itself. */
interface Origin {
  /** 'source' or 'backup', as messages name it. */
  label: string;
  hasPggit(): Promise<boolean>;
  /** Its schema as `pg_dump --schema-only` writes it. */
  schema(): Promise<ToolRun>;
}

const hasPggit = `SELECT to_regprocedure('pggit.verify_database_integrity()') IS NOT NULL AS present`;

/** The drill's source database as it is now. */
function sourceDatabase(ctx: DrContext, source: DbRef): Origin {
  return {
    label: 'source',
    hasPggit: () => withSession(ctx.config, source, ctx.signal, async (s) => (await s.query<{ present: boolean }>(hasPggit)).rows[0]!.present),
    schema: () => runPgTool(ctx, 'pg_dump', ['--schema-only'], { env: pgToolEnv(ctx.config, source), phase: 'schema dump of the source' }),
  };
}

/** A backup file, read by pg_restore, which writes its schema as pg_dump wrote it. */
function backupArchive(ctx: DrContext, backup: BackupFile, contents: ArchiveContents, ref: DbRef): Origin {
  return {
    label: 'backup',
    hasPggit: async () => contents.entries.some((entry) => /^\d+; \d+ \d+ SCHEMA - pggit /.test(entry)),
    schema: () => runPgTool(ctx, 'pg_restore', ['--schema-only', `--format=${backup.format}`, '--file=-', backup.path], { env: pgToolEnv(ctx.config, ref), phase: 'schema of the backup' }),
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, Math.round(performance.now() - started)];
}

/** Proves the scratch database restored from `source` (a target name); see the file header. */
export async function proveRestore(ctx: DrContext, input: { source: string; scratch: ScratchDatabase }): Promise<ProofResult> {
  assertScratch(input.scratch.database);
  const source = sourceDatabase(ctx, { target: input.source });
  const scratch: DbRef = input.scratch;
  const checksumMaxTableBytes = ctx.config.backups.checksum_max_table_bytes;
  await removeAmcheck(ctx.config, input.scratch);

  const [pggit, integrityMs] = await timed(() => pggitProofs(ctx, source, scratch));
  const [schema, schemaMs] = await timed(() => compareSchemas(ctx, source, scratch));
  const [data, dataMs] = await timed(() => compareData(ctx, { target: input.source }, scratch, checksumMaxTableBytes));
  const [amcheck, amcheckMs] = await timed(() => runAmcheck(ctx, input.scratch));

  const findings = [...pggit, ...schema, ...data.findings, amcheck.finding];
  return {
    pass: !findings.some((f) => f.severity === 'critical'),
    findings,
    measurements: {
      integrityMs,
      schemaMs,
      dataMs,
      amcheckMs,
      tables: data.tables,
      rowsInSource: data.rowsInSource,
      checksummedTables: data.checksummedTables,
      checksumMaxTableBytes,
      dataExcludedSchemas: DATA_EXCLUDED_SCHEMAS,
      amcheck: amcheck.status,
    },
  };
}

export interface RecoveryProof {
  /** No critical finding. */
  pass: boolean;
  findings: Finding[];
  measurements: Pick<ProofMeasurements, 'integrityMs' | 'schemaMs'>;
}

/**
 * Proves a recovered database against the backup it was restored from: pggit's integrity and
 * dependency checks, and its schema line for line the backup's. Rows are not compared: the archive
 * holds no counts, reading it whole again would cost as much as the restore did, and pg_restore
 * reported every row it failed to load. Nor is amcheck run, which would install an extension into
 * the live database: the drills prove the backups that way.
 */
export async function proveRecovered(ctx: DrContext, input: { restored: DbRef; backup: BackupFile; contents: ArchiveContents }): Promise<RecoveryProof> {
  const backup = backupArchive(ctx, input.backup, input.contents, input.restored);
  const [pggit, integrityMs] = await timed(() => pggitProofs(ctx, backup, input.restored));
  const [schema, schemaMs] = await timed(() => compareSchemas(ctx, backup, input.restored));
  const findings = [...pggit, ...schema];
  return { pass: !findings.some((f) => f.severity === 'critical'), findings, measurements: { integrityMs, schemaMs } };
}

/** pggit.verify_database_integrity() and the guide's "Check for missing dependencies", verbatim. */
async function pggitProofs(ctx: DrContext, origin: Origin, restored: DbRef): Promise<Finding[]> {
  return withSession(ctx.config, restored, ctx.signal, async (db) => {
    if (!(await db.query<{ present: boolean }>(hasPggit)).rows[0]!.present) {
      return [
        (await origin.hasPggit())
          ? { code: 'pggit_missing', severity: 'critical', message: `pggit is installed in the ${origin.label} but missing from the restored copy` }
          : { code: 'pggit_not_installed', severity: 'info', message: `the ${origin.label} does not carry pggit: its integrity checks do not apply` },
      ];
    }
    ctx.heartbeat({ phase: 'pggit integrity' });
    const integrity = await db.query<{ check_name: string; status: string; object_name: string | null; details: string }>(
      `SELECT check_name, status, object_name, details FROM pggit.verify_database_integrity() WHERE status <> 'OK'`,
    );
    const dependencies = await db.query<{ dependent_object: string; dependency_object: string; status: string }>(`
      SELECT
          d.dependent_object,
          d.dependency_object,
          CASE WHEN o1.id IS NULL THEN 'MISSING DEPENDENT'
               WHEN o2.id IS NULL THEN 'MISSING DEPENDENCY'
               ELSE 'OK' END as status
      FROM pggit.dependencies d
      LEFT JOIN pggit.objects o1 ON d.dependent_object = o1.full_name
      LEFT JOIN pggit.objects o2 ON d.dependency_object = o2.full_name
      WHERE o1.id IS NULL OR o2.id IS NULL`);
    return [
      ...listed(
        integrity.rows.map((r) => ({
          code: r.status === 'FAIL' ? 'integrity_failed' : 'integrity_warning',
          severity: r.status === 'FAIL' ? ('critical' as const) : ('warning' as const),
          message: `pggit.verify_database_integrity() ${r.status} ${r.check_name}: ${r.details}`,
          details: { ...r },
        })),
      ),
      ...listed(
        dependencies.rows.map((r) => ({
          code: 'missing_dependency',
          severity: 'critical' as const,
          message: `${r.status}: ${r.dependent_object} depends on ${r.dependency_object} (the guide's missing-dependency query)`,
          details: { ...r },
        })),
      ),
    ];
  });
}

/** The first MAX_TABLE_FINDINGS findings, and one more carrying the messages of the rest. */
function listed(findings: Finding[]): Finding[] {
  if (findings.length <= MAX_TABLE_FINDINGS) return findings;
  const rest = findings.slice(MAX_TABLE_FINDINGS);
  const worst: Severity = rest.some((f) => f.severity === 'critical') ? 'critical' : rest.some((f) => f.severity === 'warning') ? 'warning' : 'info';
  return [
    ...findings.slice(0, MAX_TABLE_FINDINGS),
    { code: rest[0]!.code, severity: worst, message: `... and ${rest.length} more like the above`, details: { omitted: rest.map((f) => f.message) } },
  ];
}

/**
 * A schema-only dump as comparable lines: without comments, blank lines, psql's \restrict guards
 * (a random key per dump) and the session settings every dump starts with.
 */
function normalisedSchema(dump: string): string[] {
  return dump
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('--') && !/^\\(un)?restrict\b/.test(line) && !/^SET \w+ = /.test(line) && !line.startsWith('SELECT pg_catalog.set_config('));
}

/** The lines of `lines` left over after each line of `other` has cancelled one equal line. */
function surplus(lines: string[], other: string[]): string[] {
  const remaining = new Map<string, number>();
  for (const line of other) remaining.set(line, (remaining.get(line) ?? 0) + 1);
  return lines.filter((line) => {
    const n = remaining.get(line) ?? 0;
    remaining.set(line, n - 1);
    return n <= 0;
  });
}

/**
 * Both sides' schemas as pg_dump --schema-only writes them, compared as multisets of lines:
 * pg_dump's order may differ where it breaks ties by OID, which a restore changes, but a line that
 * is on one side only is a real difference. The evidence is the first such lines and where the
 * dumps first part. `only_in_source` holds the origin's lines (the source's, or the backup's).
 */
async function compareSchemas(ctx: DrContext, origin: Origin, restoredRef: DbRef): Promise<Finding[]> {
  const read = async (side: string, dump: () => Promise<ToolRun>) => {
    const run = await dump();
    return { side, run, lines: normalisedSchema(run.stdout) };
  };
  const [src, restored] = await Promise.all([
    read(origin.label, origin.schema),
    read('restored copy', () => runPgTool(ctx, 'pg_dump', ['--schema-only'], { env: pgToolEnv(ctx.config, restoredRef), phase: 'schema dump of the restored copy' })),
  ]);
  const failed = [src, restored].filter((d) => d.run.exitCode !== 0);
  if (failed.length > 0) {
    return failed.map((d) => ({
      code: 'schema_dump_failed',
      severity: 'critical',
      message: `the schema of the ${d.side} could not be read, so the schemas were not compared: ${d.run.stderr.trim().split('\n')[0]}`,
      details: { side: d.side, exit_code: d.run.exitCode, stderr: d.run.stderr.trim().split('\n').slice(0, 10) },
    }));
  }
  const onlyInSource = surplus(src.lines, restored.lines);
  const onlyInRestored = surplus(restored.lines, src.lines);
  if (onlyInSource.length === 0 && onlyInRestored.length === 0) return [];
  const at = src.lines.findIndex((line, i) => line !== restored.lines[i]);
  const line = at === -1 ? src.lines.length : at;
  const first = onlyInSource[0] ?? onlyInRestored[0];
  return [
    {
      code: 'schema_differs',
      severity: 'critical',
      message: `the restored schema differs from the ${origin.label}: ${onlyInSource.length} lines only in the ${origin.label}, ${onlyInRestored.length} only in the restored copy; the first: ${first}`,
      details: {
        only_in_source: onlyInSource.slice(0, 20),
        only_in_source_count: onlyInSource.length,
        only_in_restored: onlyInRestored.slice(0, 20),
        only_in_restored_count: onlyInRestored.length,
        first_difference: { line: line + 1, source: src.lines[line] ?? null, restored: restored.lines[line] ?? null },
      },
    },
  ];
}

/**
 * Settings that change how a row is written as text: both sides write theirs alike, so equal rows
 * give equal checksums whatever the server's or role's defaults are.
 */
const ROW_TEXT_SETTINGS = `SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC';
  SET extra_float_digits = 3; SET bytea_output = 'hex'; SET lc_monetary = 'C'`;

/**
 * Ordinary tables (partitions included; partitioned parents hold no rows of their own) by their
 * quoted name, with their size. Materialized views are left out: a restore refreshes them, so they
 * legitimately hold newer contents than the source's last refresh.
 */
async function tables(db: pg.Client): Promise<Map<string, number>> {
  const { rows } = await db.query<{ name: string; bytes: number }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_table_size(c.oid)::float8 AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relpersistence <> 't'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname <> ALL ($1::text[])`,
    [DATA_EXCLUDED_SCHEMAS],
  );
  return new Map(rows.map((r) => [r.name, r.bytes]));
}

/**
 * The exact row count and, when asked, a checksum of the contents: the sums of two 64-bit halves of
 * each row's md5. A sum is blind to row order, so no sort is needed (and collations cannot differ),
 * and unlike XOR it counts a duplicated row twice. `table` is a quoted name from the catalog.
 */
async function measure(db: pg.Client, table: string, checksum: boolean): Promise<{ rows: number; checksum: string | null }> {
  const sql = checksum
    ? `SELECT count(*) AS rows,
              coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0) || '/' || coalesce(sum(('x' || substr(h, 17))::bit(64)::bigint), 0) AS checksum
         FROM (SELECT md5((t.*)::text) AS h FROM ${table} t) s`
    : `SELECT count(*) AS rows, NULL AS checksum FROM ${table}`;
  const row = (await db.query<{ rows: string; checksum: string | null }>(sql)).rows[0]!;
  return { rows: Number(row.rows), checksum: row.checksum };
}

/**
 * Row counts of every table on both sides, and checksums of those the source holds in at most
 * `maxBytes`. Each statement runs in its own snapshot: a transaction held open on the source for
 * the whole comparison would hold back its vacuum for as long.
 */
async function compareData(ctx: DrContext, source: DbRef, scratch: DbRef, maxBytes: number) {
  return withSession(ctx.config, source, ctx.signal, (src) =>
    withSession(ctx.config, scratch, ctx.signal, async (restored) => {
      await Promise.all([src.query(ROW_TEXT_SETTINGS), restored.query(ROW_TEXT_SETTINGS)]);
      const [inSource, inRestored] = await Promise.all([tables(src), tables(restored)]);
      const names = [...new Set([...inSource.keys(), ...inRestored.keys()])].sort();
      const counts: Finding[] = [];
      const contents: Finding[] = [];
      const skipped: Array<{ table: string; bytes: number }> = [];
      let rowsInSource = 0;
      let checksummedTables = 0;
      const described = (n: number | undefined) => (n === undefined ? 'no such table' : `${n} rows`);
      for (const [i, table] of names.entries()) {
        ctx.heartbeat({ phase: 'compare data', table, done: i, total: names.length });
        const bytes = inSource.get(table);
        const checksum = bytes !== undefined && bytes <= maxBytes && inRestored.has(table);
        if (bytes !== undefined && bytes > maxBytes) skipped.push({ table, bytes });
        const [a, b] = await Promise.all([
          bytes !== undefined ? measure(src, table, checksum) : undefined,
          inRestored.has(table) ? measure(restored, table, checksum) : undefined,
        ]);
        rowsInSource += a?.rows ?? 0;
        if (checksum) checksummedTables++;
        if (a?.rows !== b?.rows) {
          counts.push({
            code: 'row_count_mismatch',
            severity: 'critical',
            message: `row count of ${table} differs: ${described(a?.rows)} in the source, ${described(b?.rows)} in the restored copy`,
            details: { table, source_rows: a?.rows ?? null, restored_rows: b?.rows ?? null },
          });
        } else if (checksum && a!.checksum !== b!.checksum) {
          contents.push({
            code: 'checksum_mismatch',
            severity: 'critical',
            message: `contents of ${table} differ from the source: same ${a!.rows} rows, different checksum`,
            details: { table, rows: a!.rows, source_checksum: a!.checksum, restored_checksum: b!.checksum },
          });
        }
      }
      const findings = [...listed(counts), ...listed(contents)];
      if (skipped.length > 0) {
        const shown = capped(skipped, MAX_TABLE_FINDINGS);
        findings.push({
          code: 'checksum_skipped',
          severity: 'info',
          message: `${skipped.length} tables larger than ${formatBytes(maxBytes)} (backups.checksum_max_table_bytes) were compared by row count only: ${shown.items.map((s) => s.table).join(', ')}${shown.omitted ? ', ...' : ''}`,
          details: { max_bytes: maxBytes, tables: shown.items, tables_omitted: shown.omitted },
        });
      }
      return { findings, tables: names.length, rowsInSource, checksummedTables };
    }),
  );
}

/** Where the drill installs amcheck when the restored copy lacks it, and removes it from afterwards. */
const AMCHECK_SCHEMA = 'pggit_drill_amcheck';

/**
 * Runs `sql` on the scratch database without firing event triggers: pggit's would record the
 * drill's own DDL in the copy being compared. Suppressing them needs a superuser, which restoring
 * pggit's event triggers needs anyway; without one the DDL is recorded, which only shows if the
 * proof is run again on the same copy.
 */
async function withoutEventTriggers(config: DrContext['config'], scratch: ScratchDatabase, sql: string): Promise<void> {
  await withSession(config, scratch, undefined, async (db) => {
    await db.query(`SET session_replication_role = replica`).catch(() => undefined);
    await db.query(sql);
  });
}

/** Removes what an interrupted earlier attempt of runAmcheck left, so that a retried proof compares the copy as restored. */
const removeAmcheck = (config: DrContext['config'], scratch: ScratchDatabase) => withoutEventTriggers(config, scratch, `DROP SCHEMA IF EXISTS ${AMCHECK_SCHEMA} CASCADE`);

/**
 * pg_amcheck --heapallindexed on the scratch database, when the binary is installed and the amcheck
 * extension is in the restored copy or can be created there (and is removed again afterwards).
 */
async function runAmcheck(ctx: DrContext, scratch: ScratchDatabase): Promise<{ status: ProofMeasurements['amcheck']; finding: Finding }> {
  const unavailable = (why: string) => ({
    status: 'unavailable' as const,
    finding: { code: 'amcheck_unavailable', severity: 'warning' as const, message: `tables and indexes of the restored copy were not checked: ${why}` },
  });
  try {
    accessSync(pgBin('pg_amcheck'), constants.X_OK);
  } catch {
    return unavailable(`pg_amcheck is not installed beside pg_restore (${pgBin('pg_amcheck')})`);
  }
  const restored = await withSession(ctx.config, scratch, ctx.signal, async (db) => (await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'amcheck'`)).rowCount === 1);
  if (!restored) {
    try {
      await withoutEventTriggers(ctx.config, scratch, `CREATE SCHEMA ${AMCHECK_SCHEMA}; CREATE EXTENSION amcheck SCHEMA ${AMCHECK_SCHEMA}`);
    } catch (err) {
      return unavailable(`the amcheck extension cannot be created on the drill server: ${(err as Error).message}`);
    }
  }
  const run = await runPgTool(ctx, 'pg_amcheck', ['--heapallindexed', scratch.database], { env: pgToolEnv(ctx.config, scratch), phase: 'pg_amcheck' }).finally(() =>
    restored ? undefined : removeAmcheck(ctx.config, scratch),
  );
  const output = `${run.stdout}\n${run.stderr}`.trim();
  if (run.exitCode === 0 && output === '') {
    return {
      status: 'passed',
      finding: { code: 'amcheck_passed', severity: 'info', message: `pg_amcheck --heapallindexed found no corruption in the restored copy (${(run.ms / 1000).toFixed(1)} s)` },
    };
  }
  const lines = output.split('\n');
  return {
    status: 'failed',
    finding: {
      code: 'amcheck_failed',
      severity: 'critical',
      message: `pg_amcheck --heapallindexed reported problems in the restored copy (exit code ${run.exitCode}): ${lines[0]}`,
      details: { exit_code: run.exitCode, output: lines.slice(0, 40), output_lines: lines.length },
    },
  };
}
