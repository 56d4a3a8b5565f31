// Replacing a target's database with a backup: what a recovery does with the chosen backup, and
// what putting the target back does with the recovery's safety backup. Every check that can refuse
// comes before the drop; then the database's sessions are terminated, it is dropped, and pg_restore
// recreates it from the archive's own entry (--create: encoding, locale, owner, grants, settings
// and comment as backed up, where a database created beside it would lose them), pggit re-binds its
// records to the new catalog addresses, and the result is proven against the backup.
import pg from 'pg';
import { PermanentError, type Finding } from '../checks/define.ts';
import type { TargetPools } from '../pools.ts';
import { databaseName, withSession, type DrContext } from './pg-tools.ts';
import { proveRecovered, type RecoveryProof } from './prove.ts';
import { MAINTENANCE_DATABASE, readArchive, restoreInto, type ArchiveContents, type BackupFile, type RestoreMeasurements } from './restore.ts';

/** The database was not touched, and trying again as asked cannot succeed. */
export class RecoveryRefused extends PermanentError {
  override name = 'RecoveryRefused';
}

export interface Replacement {
  /** Restored completely and proven against the backup. */
  ok: boolean;
  findings: Finding[];
  /** Sessions on the old database that the drop terminated. */
  terminatedSessions: number;
  restore: RestoreMeasurements;
  /** Tracked objects pggit re-bound to their new catalog addresses; null without pggit or when the restore failed. */
  resynced: number | null;
  proof: RecoveryProof['measurements'] | null;
}

/** A session on the maintenance database of `target`'s server: where a database is dropped and looked up. */
function onServer<T>(ctx: Pick<DrContext, 'config' | 'signal'>, target: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withSession(ctx.config, { target, database: MAINTENANCE_DATABASE }, ctx.signal, fn);
}

/** The OID of `database` on `target`'s server, null when there is no such database. A recreated database has a new one. */
export async function databaseOid(ctx: Pick<DrContext, 'config' | 'signal'>, target: string, database: string): Promise<number | null> {
  return onServer(ctx, target, async (c) => {
    const { rows } = await c.query<{ oid: number }>('SELECT oid::int8 AS oid FROM pg_database WHERE datname = $1', [database]);
    return rows[0] ? Number(rows[0].oid) : null;
  });
}

/**
 * Refuses a database a recovery must never replace: the maintenance database it works from, and
 * the ledger's (the run's own records and the backup catalog live there; a restore would take them
 * back to the backup's time in the middle of the run). The ledger is recognised by its session
 * showing up on the target's server in that database, however the two targets are named.
 */
async function assertReplaceable(ctx: Pick<DrContext, 'config' | 'signal'>, pools: TargetPools, target: string, database: string): Promise<void> {
  if (database === MAINTENANCE_DATABASE) {
    throw new RecoveryRefused(`target ${target}'s database is ${MAINTENANCE_DATABASE}, the maintenance database recoveries work from: restore it by hand`);
  }
  const ledger = `the ledger (ledger.target: ${ctx.config.ledger.target}) lives in target ${target}'s database ${database}: a recovery would replace the run's own records and the backup catalog; restore it by hand`;
  if (target === ctx.config.ledger.target) throw new RecoveryRefused(ledger);
  // pid and start time (in microseconds, as text: a JS Date would drop them) name one session.
  const started = `extract(epoch FROM backend_start)::text`;
  const session = await pools.withLedger(async (db) =>
    (await db.query<{ pid: number; started: string }>(`SELECT pid, ${started} AS started FROM pg_stat_activity WHERE pid = pg_backend_pid()`)).rows[0]!,
  );
  const same = await onServer(ctx, target, async (c) =>
    (await c.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND ${started} = $2 AND datname = $3`, [session.pid, session.started, database])).rowCount === 1,
  );
  if (same) throw new RecoveryRefused(ledger);
}

/** A replacement that passed every check that can refuse it. */
export interface ReplacementPlan {
  target: string;
  /** The target's database, as the backup names it too. */
  database: string;
  backup: BackupFile;
  contents: ArchiveContents;
}

/**
 * Checks, changing nothing, that `backup` can replace `target`'s database: the database is one a
 * recovery may replace, pg_restore can read the backup, and the backup is of a database of that
 * name (pg_restore --create recreates the database under the name it was dumped with). Throws
 * RecoveryRefused otherwise.
 */
export async function planReplacement(ctx: DrContext, pools: TargetPools, input: { target: string; backup: BackupFile }): Promise<ReplacementPlan> {
  const { target, backup } = input;
  const database = databaseName(ctx.config, target);
  await assertReplaceable(ctx, pools, target, database);
  const archive = await readArchive(ctx, backup, { target, database: MAINTENANCE_DATABASE });
  if ('failed' in archive) {
    throw new RecoveryRefused(`pg_restore cannot read ${backup.path} (${archive.failed.stderr.trim().split('\n').at(-1)}): ${database} was not touched`);
  }
  const dumped = archive.contents.database;
  if (dumped?.name !== database) {
    throw new RecoveryRefused(`${backup.path} is a backup of database '${dumped?.name ?? '?'}', not '${database}': ${database} was not touched`);
  }
  return { target, database, backup, contents: archive.contents };
}

/**
 * Carries out a plan (see the file header). A failed restore or proof is the result's `ok: false`
 * and its findings. A database already missing (an earlier attempt dropped it) is simply created.
 */
export async function replaceDatabase(ctx: DrContext, plan: ReplacementPlan, jobs = 1): Promise<Replacement> {
  const { target, database, backup, contents } = plan;
  ctx.heartbeat({ phase: 'drop', database });
  const terminatedSessions = await onServer(ctx, target, async (c) => {
    const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [database]);
    // FORCE terminates the sessions and drops in one statement; new connections wait on the
    // database's lock meanwhile and then find it gone, so none slips in between.
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    return rows[0]!.n;
  });
  const restored = await restoreInto(ctx, { recreate: { target, database }, backup, jobs });
  const result = { terminatedSessions, restore: restored.measurements };
  if (!restored.ok) return { ok: false, findings: restored.findings, ...result, resynced: null, proof: null };

  const restoredRef = { target, database };
  const resynced = await withSession(ctx.config, restoredRef, ctx.signal, async (c) => {
    const present = (await c.query<{ present: boolean }>(`SELECT to_regprocedure('pggit.resync_catalog_addresses()') IS NOT NULL AS present`)).rows[0]!.present;
    return present ? (await c.query<{ n: number }>('SELECT pggit.resync_catalog_addresses() AS n')).rows[0]!.n : null;
  });
  const proof = await proveRecovered(ctx, { restored: restoredRef, backup, contents });
  const findings: Finding[] = [...restored.findings];
  if (resynced !== null) {
    findings.push({ code: 'pggit_resynced', severity: 'info', message: `pggit re-bound ${resynced} tracked objects to their catalog addresses in the restored database` });
  }
  return { ok: proof.pass, findings: [...findings, ...proof.findings], ...result, resynced, proof: proof.measurements };
}
