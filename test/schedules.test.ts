// `pggit-ops schedules`: four Temporal Schedules per target (visible to the official temporal CLI),
// idempotent sync, pause / unpause, and a trigger that starts a real checklist run.
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../worker/temporal-connection.ts';
import { findTemporalCli } from '../worker/tools.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { testConfig, withWorkers } from './support/temporal.ts';
import { runCli } from './support/cli.ts';

const target = `sched_${randomBytes(3).toString('hex')}`;
const ids = ['daily', 'weekly', 'monthly', 'quarterly'].map((c) => `${c}/${target}`);
let server: TestPostgres;
let loaded: LoadedConfig;

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  loaded = testConfig(
    { [target]: server.connection },
    {
      ledger: { target },
      people: { users: { alice: {}, bob: {}, carol: {} }, groups: { dba: ['alice', 'bob'], security: ['carol'] } },
      schedules: { timezone: 'Europe/Paris', catchup_window: '10m' },
    },
  );
});
afterAll(async () => {
  const client = await connectClient(loaded);
  for (const id of ids) await client.schedule.getHandle(id).delete().catch(() => undefined);
  await client.connection.close();
  await server?.stop();
});

function cli(args: string[]) {
  return runCli(loaded, args, { [loaded.config.targets[target]!.password_env!]: server.connection.password });
}

describe('pggit-ops schedules', () => {
  it('syncs four schedules per target, idempotently, as the official CLI sees them', async () => {
    const first = await cli(['schedules', 'sync', '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual(ids.map((scheduleId) => ({ scheduleId, action: 'created' })));
    const again = await cli(['schedules', 'sync', '--json']);
    expect(JSON.parse(again.stdout)).toEqual(ids.map((scheduleId) => ({ scheduleId, action: 'updated' })));

    const official = await execa(findTemporalCli(), ['schedule', 'list', '--address', loaded.config.temporal.address, '--output', 'json']);
    const listed = (JSON.parse(official.stdout) as Array<{ scheduleId: string }>).map((s) => s.scheduleId);
    expect(listed).toEqual(expect.arrayContaining(ids));

    const ours = JSON.parse((await cli(['schedules', 'list', '--json'])).stdout) as Array<{ scheduleId: string; cron: string; timezone: string; paused: boolean; nextRun: string }>;
    const daily = ours.find((s) => s.scheduleId === `daily/${target}`)!;
    expect(daily).toMatchObject({ cron: '0 6 * * *', timezone: 'Europe/Paris', paused: false });
    expect(new Date(daily.nextRun).getTime()).toBeGreaterThan(Date.now());
  });

  it('pauses and unpauses a schedule, and names an unknown one', async () => {
    expect((await cli(['schedules', 'pause', `weekly/${target}`, '--note', 'maintenance window'])).exitCode).toBe(0);
    let ours = JSON.parse((await cli(['schedules', 'list', '--json'])).stdout) as Array<{ scheduleId: string; paused: boolean; note: string }>;
    expect(ours.find((s) => s.scheduleId === `weekly/${target}`)).toMatchObject({ paused: true, note: 'maintenance window' });
    expect((await cli(['schedules', 'unpause', `weekly/${target}`])).exitCode).toBe(0);
    ours = JSON.parse((await cli(['schedules', 'list', '--json'])).stdout);
    expect(ours.find((s) => s.scheduleId === `weekly/${target}`)!.paused).toBe(false);
    const unknown = await cli(['schedules', 'pause', 'daily/nowhere']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("no schedule 'daily/nowhere'");
  });

  it('trigger --wait starts a real daily run, follows it, and the ledger records the schedule as its initiator', async () => {
    await withWorkers(loaded, async () => {
      const triggered = await cli(['schedules', 'trigger', `daily/${target}`, '--wait', '--json']);
      expect(triggered.exitCode, `${triggered.stderr}\n${triggered.stdout}`).toBe(0);
      const report = JSON.parse(triggered.stdout) as { runId: string; status: string; initiator: string; steps: Array<{ status: string }> };
      expect(report).toMatchObject({ status: 'succeeded', initiator: `schedule:daily/${target}` });
      expect(report.runId.startsWith(`daily/${target}/scheduled-`)).toBe(true);
      expect(report.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
      const db = new pg.Client(server.connection);
      await db.connect();
      try {
        const runs = await db.query(`SELECT run_id, status FROM pggit_ops.runs WHERE target = $1 AND runbook = 'daily'`, [target]);
        expect(runs.rows).toEqual([{ run_id: report.runId, status: 'succeeded' }]);
      } finally {
        await db.end();
      }
    });
  });
});
