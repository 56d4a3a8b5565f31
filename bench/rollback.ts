// Staged rollback on Pagila: 200 tracked schema changes (BENCH_ROLLBACK_CHANGES) made after a point,
// then the rollback to that point. Target: the preview (pggit.preview_rollback, which the run's
// first step and `pggit-ops rollback --preview` run) under 1 s. Also timed: the staged apply the
// run's apply step does (activities/rollback/plan.ts: one transaction per stage, each checked
// against the recorded definitions), against pggit.rollback_to_timestamp (one transaction, one
// check at the end), each on its own copy of the database.
import { loadPagila } from '../test/support/pagila.ts';
import { applyStages, rollbackMismatches, rollbackPlan } from '../activities/rollback/plan.ts';
import { installPggit, median, ms, ratio, runBench, timed, withCluster } from './support.ts';

const CHANGES = Number(process.env.BENCH_ROLLBACK_CHANGES ?? 200);
const PREVIEWS = 5;
const TARGET_MS = 1000;
if (!(Number.isInteger(CHANGES) && CHANGES >= 4 && CHANGES % 4 === 0)) throw new Error('BENCH_ROLLBACK_CHANGES must be a multiple of 4');

const tables = ['customer', 'film', 'rental', 'address'];
/** Four tracked changes per new column, on tables holding Pagila's data: add, index, default, comment. */
function changes(n: number): string[] {
  return Array.from({ length: n / 4 }, (_, i) => {
    const table = tables[i % tables.length];
    return [
      `ALTER TABLE ${table} ADD COLUMN bench_${i} integer NOT NULL DEFAULT ${i}`,
      `CREATE INDEX ${table}_bench_${i}_idx ON ${table} (bench_${i})`,
      `ALTER TABLE ${table} ALTER COLUMN bench_${i} SET DEFAULT ${i + 1}`,
      `COMMENT ON COLUMN ${table}.bench_${i} IS 'bench ${i}'`,
    ];
  }).flat();
}

runBench('rollback', () =>
  withCluster(async (cluster) => {
    await cluster.admin('CREATE DATABASE pagila');
    await loadPagila(cluster.url('pagila'));
    await installPggit(cluster, 'pagila');
    const db = await cluster.connect('pagila');
    let point: string;
    try {
      point = (await db.query<{ at: string }>('SELECT clock_timestamp()::text AS at')).rows[0]!.at;
      for (const sql of changes(CHANGES)) await db.query(sql);
      const tracked = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pggit.history WHERE change_timestamp > $1', [point])).rows[0]!.n;
      console.log(`rollback: Pagila, ${CHANGES} schema changes after the point (${tracked} history rows)`);

      const previews: number[] = [];
      let plan = await rollbackPlan(db, { point, scope: null, label: '' });
      for (let i = 0; i < PREVIEWS; i++) {
        const run = await timed(() => rollbackPlan(db, { point, scope: null, label: '' }));
        previews.push(run.ms);
        plan = run.result;
      }
      const stages = new Set(plan.map((s) => s.stage)).size;
      const preview = median(previews);
      console.log(`  preview: ${plan.length} statements in ${stages} stages; median of ${PREVIEWS} ${ms(preview)} (min ${ms(Math.min(...previews))}, max ${ms(Math.max(...previews))})`);
      console.log(`  target: preview < ${TARGET_MS} ms: ${preview < TARGET_MS ? 'MET' : 'NOT MET'}`);
    } finally {
      await db.end();
    }

    // Each apply on a copy, so both start from the same database.
    await cluster.admin('CREATE DATABASE staged TEMPLATE pagila');
    await cluster.admin('CREATE DATABASE single TEMPLATE pagila');
    const staged = await cluster.connect('staged');
    const single = await cluster.connect('single');
    try {
      const stagedRun = await timed(async () => {
        const plan = await rollbackPlan(staged, { point, scope: null, label: '' });
        return applyStages(staged, plan, { lockTimeout: '5s', runId: 'bench' });
      });
      const left = await rollbackMismatches(staged, { point, scope: null, label: '' });
      const singleRun = await timed(() => single.query('SELECT pggit.rollback_to_timestamp($1, allow_data_loss => true)', [point]));
      console.log(`  apply, staged (${stagedRun.result.length} transactions, each verified): ${ms(stagedRun.ms)}${left.length ? `; ${left.length} objects still differ` : ', nothing left to roll back'}`);
      console.log(`  apply, pggit.rollback_to_timestamp (one transaction): ${ms(singleRun.ms)}; staged/single ${ratio(stagedRun.ms / singleRun.ms)}`);
    } finally {
      await staged.end();
      await single.end();
    }
  }),
);
