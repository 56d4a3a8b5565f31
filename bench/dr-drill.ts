// What the restore drill's orchestration costs over doing it by hand, on Pagila (as shipped) and on
// a `pgbench -i -s 50` database, in one durable cluster. Each repetition runs, in rotating order:
//  - raw: `pg_dump -Fc` to a file, CREATE DATABASE, `pg_restore` into it, as an operator would;
//  - drill: the product's own functions, as the backup and drill steps call them: runBackup (pg_dump
//    into the store: temp name, fsync, sha256, manifest, catalog row), then createScratch and
//    restoreInto (TOC read, pg_restore) into a scratch database;
//  - drill -j 2: the same with a directory-format dump of 2 jobs and a restore of 2 jobs.
// Each pair starts after a CHECKPOINT. Targets: drill / raw at most 1.10x (medians); drill -j 2
// faster than raw. The product's verification (verifyBackup: checksum and a full read of the
// archive; proveRestore: integrity, schema, row counts, checksums, amcheck) is not part of either
// pair and is reported on its own.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { runBackup } from '../activities/backup/dump.ts';
import { backupPaths, removeBackupFiles, storeDir, type BackupFormat } from '../activities/backup/store.ts';
import { verifyBackup } from '../activities/backup/verify.ts';
import type { BackupContext } from '../activities/backup/catalog.ts';
import type { DrContext } from '../activities/dr/pg-tools.ts';
import { proveRestore, type ProofMeasurements } from '../activities/dr/prove.ts';
import { restoreInto } from '../activities/dr/restore.ts';
import { createScratch, dropScratch } from '../activities/dr/scratch.ts';
import { TargetPools } from '../activities/pools.ts';
import { loadPagila } from '../test/support/pagila.ts';
import { loadConfig, type LoadedConfig } from '../worker/config.ts';
import { pgBin } from '../worker/tools.ts';
import { installPggit, median, ms, ratio, runBench, timed, withCluster, type BenchCluster } from './support.ts';

const TARGET_RATIO = 1.1;
function positive(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}
const PGBENCH_SCALE = positive('BENCH_PGBENCH_SCALE', 50);
const REPETITIONS = positive('BENCH_REPETITIONS', 5);
// Pagila's pairs take under a second, so its medians are taken over more of them: single pairs move
// by ±20% with the server's background writes, as much as the drill's whole fixed cost.
const PAGILA_REPETITIONS = positive('BENCH_PAGILA_REPETITIONS', 15);
const JOBS = 2;

type Mode = 'raw' | 'drill' | 'drill -j 2';
const MODES: Mode[] = ['raw', 'drill', 'drill -j 2'];

interface Pair {
  dumpMs: number;
  restoreMs: number;
  totalMs: number;
}

interface Verification {
  verifyBackupMs: number;
  proveMs: number;
  proof: ProofMeasurements;
}

/** The product's config: the cluster's databases as targets (the password in an env variable), the ledger its own target, a store in `dir`. */
function writeConfig(dir: string, cluster: BenchCluster, databases: string[]): LoadedConfig {
  const passwordEnv = `PGGIT_OPS_BENCH_PW_${randomBytes(4).toString('hex')}`;
  process.env[passwordEnv] = decodeURIComponent(new URL(cluster.url()).password);
  const target = (database: string) => ({ host: '127.0.0.1', port: cluster.port, database, user: 'postgres', password_env: passwordEnv });
  const file = path.join(dir, 'pggit-ops.config.yaml');
  writeFileSync(file, stringify({
    targets: Object.fromEntries(['ledger', ...databases].map((d) => [d, target(d)])),
    ledger: { target: 'ledger' },
    backups: { dir: path.join(dir, 'store') },
  }));
  return loadConfig({ file, env: {} });
}

/** A client program as an operator runs it by hand: the connection, password included, in the environment. */
function raw(cluster: BenchCluster, tool: 'pg_dump' | 'pg_restore' | 'pgbench', args: string[]) {
  const env = { PGHOST: '127.0.0.1', PGPORT: String(cluster.port), PGUSER: 'postgres', PGPASSWORD: decodeURIComponent(new URL(cluster.url()).password) };
  return execa(pgBin(tool), args, { env, stdin: 'ignore' });
}

async function rawPair(cluster: BenchCluster, dir: string, database: string, rep: number): Promise<Pair> {
  const file = path.join(dir, `raw-${database}-${rep}.dump`);
  const copy = `raw_${database}_${rep}`;
  const dump = await timed(() => raw(cluster, 'pg_dump', ['-Fc', '-f', file, database]));
  const restore = await timed(async () => {
    await cluster.admin(`CREATE DATABASE ${copy} TEMPLATE template0`);
    await raw(cluster, 'pg_restore', ['-d', copy, file]);
  });
  await cluster.admin(`DROP DATABASE ${copy}`);
  rmSync(file, { force: true });
  return { dumpMs: dump.ms, restoreMs: restore.ms, totalMs: dump.ms + restore.ms };
}

/**
 * The drill's backup and restore through the product's functions. With `verify`, the verification
 * of the backup and the proof of the copy run after the pair, timed apart.
 */
async function drillPair(loaded: LoadedConfig, pools: TargetPools, database: string, rep: number, format: BackupFormat, jobs: number | undefined, verify: boolean) {
  const signal = new AbortController().signal;
  const backupCtx: BackupContext = { config: loaded.config, baseDir: loaded.baseDir, pools, heartbeat: () => undefined, signal };
  const dr: DrContext = { config: loaded.config, heartbeat: () => undefined, signal };
  const id = `bench/${database}/${format}-${jobs ?? 1}/${rep}-${randomBytes(2).toString('hex')}`;
  const backup = await timed(() => runBackup(backupCtx, { target: database, kind: 'full', format, jobs, idempotencyKey: id }));
  const file = { path: path.join(storeDir(loaded.config, loaded.baseDir), backup.result.path), format };
  const restore = await timed(async () => {
    const scratch = await createScratch(loaded.config, { id, source: database });
    const restored = await restoreInto(dr, { scratch, backup: file, jobs });
    if (!restored.ok) throw new Error(`drill restore of ${database} failed: ${restored.findings.map((f) => f.message).join('; ')}`);
    return scratch;
  });
  let verification: Verification | undefined;
  if (verify) {
    const verified = await timed(() => verifyBackup(backupCtx, { backupId: backup.result.backupId }));
    if (!verified.result.ok) throw new Error(`backup of ${database} failed verification: ${verified.result.problems.join('; ')}`);
    const proof = await timed(() => proveRestore(dr, { source: database, scratch: restore.result }));
    if (!proof.result.pass) throw new Error(`proof of ${database} failed: ${proof.result.findings.filter((f) => f.severity === 'critical').map((f) => f.message).join('; ')}`);
    verification = { verifyBackupMs: verified.ms, proveMs: proof.ms, proof: proof.result.measurements };
  }
  await dropScratch(loaded.config, restore.result);
  await removeBackupFiles(backupPaths(storeDir(loaded.config, loaded.baseDir), backup.result));
  const pair: Pair = { dumpMs: backup.ms, restoreMs: restore.ms, totalMs: backup.ms + restore.ms };
  return { pair, verification };
}

interface DatasetResult {
  database: string;
  size: string;
  pairs: Record<Mode, Pair[]>;
  verifications: Verification[];
}

async function benchDataset(cluster: BenchCluster, dir: string, loaded: LoadedConfig, pools: TargetPools, database: string, repetitions: number): Promise<DatasetResult> {
  const size = await cluster.connect(database).then(async (c) => {
    try {
      return (await c.query<{ size: string }>('SELECT pg_size_pretty(pg_database_size(current_database())) AS size')).rows[0]!.size;
    } finally {
      await c.end();
    }
  });
  console.log(`\n${database} (${size}): ${repetitions} repetitions, modes in rotating order`);
  // Untimed: the first read of the database from disk would otherwise land on whichever mode runs first.
  await rawPair(cluster, dir, database, 0);
  const result: DatasetResult = { database, size, pairs: { raw: [], drill: [], 'drill -j 2': [] }, verifications: [] };
  for (let rep = 1; rep <= repetitions; rep++) {
    const order = MODES.map((_, i) => MODES[(i + rep - 1) % MODES.length]!);
    for (const mode of order) {
      // Each pair starts with no dirty buffers left by the one before, whose writes would
      // otherwise be flushed on its time.
      await cluster.admin('CHECKPOINT');
      let pair: Pair;
      if (mode === 'raw') pair = await rawPair(cluster, dir, database, rep);
      else {
        // The verification is measured on the custom-format drill, the mode the drill runbook uses.
        const run = await drillPair(loaded, pools, database, rep, mode === 'drill' ? 'custom' : 'directory', mode === 'drill' ? undefined : JOBS, mode === 'drill');
        pair = run.pair;
        if (run.verification) result.verifications.push(run.verification);
      }
      result.pairs[mode].push(pair);
      console.log(`  rep ${rep} ${mode.padEnd(10)} dump ${ms(pair.dumpMs).padStart(11)}  restore ${ms(pair.restoreMs).padStart(11)}  total ${ms(pair.totalMs).padStart(11)}`);
    }
  }
  return result;
}

/** Loads `pgbench -i -s SCALE` into a new database, as pgbench itself does it. */
async function loadPgbench(cluster: BenchCluster, database: string): Promise<void> {
  await cluster.admin(`CREATE DATABASE ${database}`);
  await raw(cluster, 'pgbench', ['-i', '-s', String(PGBENCH_SCALE), '-q', database]);
}

function summarise(results: DatasetResult[]): boolean {
  let met = true;
  console.log('\nSummary (medians)');
  console.log('  database           raw total     drill total   drill/raw   target      drill -j 2    -j 2 / raw   target');
  for (const r of results) {
    const rawMs = median(r.pairs.raw.map((p) => p.totalMs));
    const drillMs = median(r.pairs.drill.map((p) => p.totalMs));
    const parallelMs = median(r.pairs['drill -j 2'].map((p) => p.totalMs));
    const overhead = drillMs / rawMs;
    const speedup = parallelMs / rawMs;
    met &&= overhead <= TARGET_RATIO && speedup < 1;
    console.log(`  ${r.database.padEnd(16)} ${ms(rawMs).padStart(11)}   ${ms(drillMs).padStart(11)}   ${ratio(overhead).padStart(8)}   ${overhead <= TARGET_RATIO ? 'MET    ' : 'NOT MET'}   ${ms(parallelMs).padStart(11)}   ${ratio(speedup).padStart(9)}   ${speedup < 1 ? 'MET' : 'NOT MET'}`);
    const part = (mode: Mode, key: 'dumpMs' | 'restoreMs') => ms(median(r.pairs[mode].map((p) => p[key])));
    console.log(`  ${''.padEnd(16)} dump ${part('raw', 'dumpMs')} / ${part('drill', 'dumpMs')} / ${part('drill -j 2', 'dumpMs')}; restore ${part('raw', 'restoreMs')} / ${part('drill', 'restoreMs')} / ${part('drill -j 2', 'restoreMs')} (raw / drill / -j 2)`);
  }
  console.log('\nVerification, not in the pairs above (medians; the drill of custom-format backups)');
  console.log('  database           verifyBackup   proveRestore   = integrity + schema + data + amcheck          vs drill backup+restore');
  for (const r of results) {
    const v = r.verifications;
    const m = (f: (x: Verification) => number) => median(v.map(f));
    const total = m((x) => x.verifyBackupMs) + m((x) => x.proveMs);
    console.log(`  ${r.database.padEnd(16)} ${ms(m((x) => x.verifyBackupMs)).padStart(12)}   ${ms(m((x) => x.proveMs)).padStart(12)}   = ${ms(m((x) => x.proof.integrityMs))} + ${ms(m((x) => x.proof.schemaMs))} + ${ms(m((x) => x.proof.dataMs))} + ${ms(m((x) => x.proof.amcheckMs))}   ${ratio(total / median(r.pairs.drill.map((p) => p.totalMs)))}`);
  }
  return met;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-bench-drill-'));
  mkdirSync(path.join(dir, 'store'));
  try {
    await withCluster(async (cluster) => {
      console.log(`dr-drill: durable PostgreSQL cluster on 127.0.0.1:${cluster.port}; pgbench scale ${PGBENCH_SCALE}`);
      await cluster.admin('CREATE DATABASE ledger');
      await installPggit(cluster, 'ledger');
      await cluster.admin('CREATE DATABASE pagila');
      const pagila = await timed(() => loadPagila(cluster.url('pagila')));
      const pgbench = await timed(() => loadPgbench(cluster, 'pgbench'));
      console.log(`  loaded Pagila in ${ms(pagila.ms)}, pgbench -i -s ${PGBENCH_SCALE} in ${ms(pgbench.ms)}`);
      const loaded = writeConfig(dir, cluster, ['pagila', 'pgbench']);
      const pools = new TargetPools(loaded.config);
      try {
        const results = [
          await benchDataset(cluster, dir, loaded, pools, 'pagila', PAGILA_REPETITIONS),
          await benchDataset(cluster, dir, loaded, pools, 'pgbench', REPETITIONS),
        ];
        const met = summarise(results);
        console.log(`\nTargets: drill backup+restore at most ${TARGET_RATIO}x raw pg_dump -Fc + pg_restore; directory format with ${JOBS} jobs faster than raw`);
        console.log(met ? 'TARGET MET' : 'TARGET NOT MET');
      } finally {
        await pools.close();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('dr-drill', main);
