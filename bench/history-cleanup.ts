// History cleanup at scale: 1,000,000 rows older than 90 days among 5,000,000 in pggit.history.
// Two identical databases in one durable cluster:
//  - batched: CALL pggit.cleanup_history(90, 1000), one transaction per batch (sql/004);
//  - naive: the guide's single DELETE FROM pggit.history WHERE change_timestamp < now() - 90 days.
// Reports rows deleted per second and the longest lock held on pggit.history, measured from a
// second connection that samples pg_locks + pg_stat_activity every ~5 ms: a hold is one
// transaction (backend pid + xact_start) seen holding RowExclusiveLock on the table; its length is
// from xact_start to the last sample that still saw it. Target: longest batched hold under 1 s.
import type pg from 'pg';
import { installPggit, ms, percentile, ratio, runBench, timed, withCluster, type BenchCluster } from './support.ts';

const TOTAL_ROWS = Number(process.env.BENCH_HISTORY_ROWS ?? 5_000_000);
const OLD_ROWS = Number(process.env.BENCH_HISTORY_OLD_ROWS ?? 1_000_000);
const BATCH_SIZE = 1000;
const RETENTION_DAYS = 90;
const SAMPLE_EVERY_MS = 5;
const TARGET_LOCK_MS = 1000;
if (!(Number.isInteger(TOTAL_ROWS) && Number.isInteger(OLD_ROWS) && OLD_ROWS > 0 && TOTAL_ROWS > OLD_ROWS)) {
  throw new Error('BENCH_HISTORY_ROWS and BENCH_HISTORY_OLD_ROWS must be integers with 0 < old < total');
}

/**
 * History in id (= time) order, as tracking writes it: the first OLD_ROWS rows spread over 91 to
 * 180 days ago, the rest over the last 89 days. Statements and versions as tracking fills them.
 */
const fillSql = (old: number, total: number): string => `
  INSERT INTO pggit.history (object_id, object_type, full_name, change_type, change_severity, command_tag, statement,
                             change_timestamp, version_before, version_after)
  SELECT g % 5000, 'table column', 'public.table_' || (g % 500) || '.column_' || (g % 10),
         'ALTER', 'MINOR', 'ALTER TABLE',
         'ALTER TABLE public.table_' || (g % 500) || ' ALTER COLUMN column_' || (g % 10) || ' SET DEFAULT ' || g,
         CASE WHEN g <= ${old}
              THEN now() - interval '180 days' + (g - 1) * (interval '89 days' / ${old})
              ELSE now() - interval '89 days' + (g - ${old}) * (interval '89 days' / ${total - old}) END,
         '1.' || (g % 7) || '.0', '1.' || (g % 7 + 1) || '.0'
    FROM generate_series(1, ${total}) g`;

interface Hold {
  pid: number;
  xactStart: number; // epoch ms, server clock
  lastSeen: number;
}

/** Samples, from its own connection, which transactions hold RowExclusiveLock on pggit.history. */
class LockSampler {
  private holds = new Map<string, Hold>();
  private running = true;
  private loop: Promise<void>;
  samples = 0;

  constructor(private client: pg.Client) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const { rows } = await this.client.query<{ pid: number; xact_start: number; at: number }>(`
        SELECT a.pid, extract(epoch FROM a.xact_start) * 1000 AS xact_start, extract(epoch FROM clock_timestamp()) * 1000 AS at
          FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'relation' AND l.relation = 'pggit.history'::regclass
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.mode = 'RowExclusiveLock' AND l.granted AND a.xact_start IS NOT NULL AND l.pid <> pg_backend_pid()`);
      this.samples++;
      for (const r of rows) {
        const key = `${r.pid}/${r.xact_start}`;
        const hold = this.holds.get(key) ?? { pid: r.pid, xactStart: Number(r.xact_start), lastSeen: 0 };
        hold.lastSeen = Number(r.at);
        this.holds.set(key, hold);
      }
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
    }
  }

  /** Stops sampling; returns how long each transaction seen was held (ms, in the order they began). */
  async stop(): Promise<LockStats> {
    this.running = false;
    await this.loop;
    const holds = [...this.holds.values()].sort((a, b) => a.xactStart - b.xactStart).map((h) => h.lastSeen - h.xactStart);
    return { holds, longestMs: Math.max(0, ...holds), samples: this.samples };
  }
}

interface LockStats {
  holds: number[];
  longestMs: number;
  samples: number;
}

interface Run {
  deleted: number;
  ms: number;
  lock: LockStats;
  walBytes: number;
}

/** Runs `sql` on `database` while sampling locks; checks that exactly the old rows went (and WAL written meanwhile). */
async function measureCleanup(cluster: BenchCluster, database: string, sql: string, deletedOf: (r: pg.QueryResult) => number): Promise<Run> {
  await cluster.admin('CHECKPOINT');
  const worker = await cluster.connect(database);
  const sampler = await cluster.connect(database);
  try {
    const counts = async () => {
      const { rows } = await worker.query<{ lsn: string; old: string; total: string }>(
        `SELECT pg_current_wal_lsn()::text AS lsn,
                (SELECT count(*) FROM pggit.history WHERE change_timestamp < now() - make_interval(days => $1)) AS old,
                (SELECT count(*) FROM pggit.history) AS total`,
        [RETENTION_DAYS],
      );
      return { lsn: rows[0]!.lsn, old: Number(rows[0]!.old), total: Number(rows[0]!.total) };
    };
    const before = await counts();
    const lock = new LockSampler(sampler);
    const { ms: took, result } = await timed(() => worker.query(sql)).catch(async (err: unknown) => {
      await lock.stop();
      throw err;
    });
    const lockStats = await lock.stop();
    const after = await counts();
    const wal = await worker.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2) AS bytes', [after.lsn, before.lsn]);
    const deleted = deletedOf(result);
    if (before.old !== OLD_ROWS || deleted !== before.old || after.old !== 0 || after.total !== before.total - deleted) {
      throw new Error(`${database}: ${before.old} old rows of ${before.total} before, ${deleted} deleted, ${after.old} old of ${after.total} after (expected ${OLD_ROWS} old rows deleted, none left)`);
    }
    const walBytes = Number(wal.rows[0]!.bytes);
    return { deleted, ms: took, lock: lockStats, walBytes };
  } finally {
    await worker.end();
    await sampler.end();
  }
}

function report(run: Run): void {
  const { holds, longestMs, samples } = run.lock;
  console.log(`  ${run.deleted} rows deleted in ${ms(run.ms)} = ${Math.round(run.deleted / (run.ms / 1000))} rows/s; WAL written ${(run.walBytes / 2 ** 20).toFixed(0)} MiB`);
  console.log(`  lock on pggit.history: ${holds.length} transaction(s) seen holding it (${samples} samples); longest ${ms(longestMs)}` +
    (holds.length > 1
      ? ` (transaction ${holds.indexOf(longestMs) + 1} of ${holds.length}${holds.indexOf(longestMs) === holds.length - 1 ? ', the last' : ''}), p50 ${ms(percentile(holds, 50))}, p95 ${ms(percentile(holds, 95))}`
      : ''));
}

async function main(): Promise<void> {
  await withCluster(async (cluster) => {
    console.log(`history-cleanup: durable PostgreSQL cluster on 127.0.0.1:${cluster.port}`);
    await cluster.admin('CREATE DATABASE hist_batched');
    await installPggit(cluster, 'hist_batched');
    const setup = await cluster.connect('hist_batched');
    try {
      const { rows } = await setup.query<{ ok: boolean }>(
        `SELECT to_regprocedure('pggit.cleanup_history(integer, integer, bigint)') IS NOT NULL
            AND to_regprocedure('pggit.cleanup_history_batch(integer, integer)') IS NOT NULL AS ok`,
      );
      if (!rows[0]!.ok) throw new Error('pggit.cleanup_history / cleanup_history_batch are not installed (sql/004_pggit_maintenance.sql)');
      const load = await timed(() => setup.query(fillSql(OLD_ROWS, TOTAL_ROWS)));
      const vacuum = await timed(() => setup.query('VACUUM ANALYZE pggit.history'));
      const size = await setup.query<{ size: string }>(`SELECT pg_size_pretty(pg_total_relation_size('pggit.history')) AS size`);
      console.log(`  loaded ${TOTAL_ROWS} history rows (${OLD_ROWS} older than ${RETENTION_DAYS} days) in ${ms(load.ms)}, VACUUM ANALYZE ${ms(vacuum.ms)}; pggit.history with indexes: ${size.rows[0]!.size}`);
    } finally {
      await setup.end();
    }
    const copy = await timed(() => cluster.admin('CREATE DATABASE hist_naive TEMPLATE hist_batched STRATEGY FILE_COPY'));
    console.log(`  copied it to a second database for the naive DELETE in ${ms(copy.ms)}`);

    console.log(`\nBatched: CALL pggit.cleanup_history(${RETENTION_DAYS}, ${BATCH_SIZE}), one transaction per batch of ${BATCH_SIZE}`);
    const batched = await measureCleanup(cluster, 'hist_batched', `CALL pggit.cleanup_history(${RETENTION_DAYS}, ${BATCH_SIZE})`,
      (r) => Number((r.rows[0] as { rows_deleted: string }).rows_deleted));
    report(batched);

    console.log(`\nNaive (the guide): DELETE FROM pggit.history WHERE change_timestamp < now() - interval '${RETENTION_DAYS} days'`);
    const naive = await measureCleanup(cluster, 'hist_naive',
      `DELETE FROM pggit.history WHERE change_timestamp < now() - interval '${RETENTION_DAYS} days'`, (r) => r.rowCount ?? 0);
    report(naive);

    console.log('\nSummary');
    console.log(`  rows deleted per second: batched ${Math.round(batched.deleted / (batched.ms / 1000))}, naive ${Math.round(naive.deleted / (naive.ms / 1000))} (batched takes ${ratio(batched.ms / naive.ms)} the naive time)`);
    console.log(`  longest lock on pggit.history: batched ${ms(batched.lock.longestMs)}, naive ${ms(naive.lock.longestMs)}; ratio naive/batched ${ratio(naive.lock.longestMs / batched.lock.longestMs)}`);
    const met = batched.lock.longestMs < TARGET_LOCK_MS;
    console.log(`  target (longest batched lock under ${TARGET_LOCK_MS} ms): ${met ? 'MET' : 'NOT MET'}`);
  });
}

runBench('history-cleanup', main);
