// Faults on the real stack: the backup store becomes unwritable, PostgreSQL restarts in the middle
// of a step, the target's connection limit is reached. Each time the run says clearly what
// happened, retries what a retry can fix and nothing else, raises an alert, and loses nothing.
// (Killing the worker during a backup, a restore or a run: backup-crash.test.ts, worker-crash.test.ts.)
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCheck } from '../activities/checks/define.ts';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { runbookRun } from '../workflows/runbook.ts';
import type { RunProgress } from '../workflows/runbook-types.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, withPgClient, type TestPostgres } from './support/postgres.ts';
import { rememberSecret } from './support/secrets.ts';
import { testConfig, withWorkers } from './support/temporal.ts';

/** A step that holds a target session in a query for a while: long enough to break under it. */
const holdSession = defineCheck({
  name: 'holdSession',
  description: 'test only: a query of `seconds` on the target',
  kind: 'job',
  args: z.object({ seconds: z.number().min(0).max(60) }).strict(),
  async run(ctx, args) {
    await ctx.db!.query('SELECT pg_sleep($1)', [args.seconds]);
    return { summary: `held a session ${args.seconds}s`, findings: [] };
  },
});
const checks = [...allChecks, holdSession];

let server: TestPostgres;
let loaded: LoadedConfig;
const limitedPassword = randomBytes(12).toString('hex');
const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));
const alerts: Array<{ event: string; runId: string }> = [];
let receiver: Server;

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  // A role allowed one connection, for the connection-limit case (its password is a secret too).
  rememberSecret(limitedPassword);
  await withPgClient(server.connection, (c) => c.query(`CREATE ROLE limited LOGIN CONNECTION LIMIT 1 PASSWORD '${limitedPassword}'`));
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      alerts.push(JSON.parse(body) as { event: string; runId: string });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookEnv = `PGGIT_OPS_TEST_HOOK_${randomBytes(3).toString('hex')}`;
  process.env[hookEnv] = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/alerts`;
  loaded = testConfig(
    { app: server.connection, tight: { ...server.connection, user: 'limited', password: limitedPassword } },
    { ledger: { target: 'app' }, backups: { dir: store }, notifications: { webhooks: [{ name: 'oncall', url_env: hookEnv, events: ['run_failed'] }] } },
  );
});
afterAll(async () => {
  receiver?.close();
  await server?.stop();
});

/** Runs a one-step runbook (`step` is the step's YAML mapping) on `target` to its end. */
async function run(client: Client, target: string, step: string): Promise<{ runId: string; outcome: RunProgress | Error }> {
  const runbook = parseRunbook(`name: fault\ndescription: one step\nsteps:\n  - ${step}`, 'fault.yaml', { checks, people: { users: {}, groups: {} } });
  const handle = await client.workflow.start(runbookRun, {
    taskQueue: loaded.config.temporal.task_queues.checks,
    workflowId: `fault/${target}/${timeSuffix()}`,
    args: [{ runbook, target, initiator: 'alice', queues: loaded.config.temporal.task_queues }],
  });
  return { runId: handle.workflowId, outcome: await handle.result().catch((err: Error) => err) };
}

/** The attempt an activity of `type` ended on, and the failure of the attempt before it (history keeps only the last). */
async function lastAttempt(client: Client, runId: string, type: string): Promise<{ attempt: number; previousFailure: string | null }> {
  const events = (await client.workflow.getHandle(runId).fetchHistory()).events!;
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).map((e) => Number(e.eventId)));
  const started = events.filter((e) => e.activityTaskStartedEventAttributes && scheduled.has(Number(e.activityTaskStartedEventAttributes.scheduledEventId)));
  expect(started).toHaveLength(1);
  const attrs = started[0]!.activityTaskStartedEventAttributes!;
  return { attempt: attrs.attempt!, previousFailure: attrs.lastFailure?.message ?? null };
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('faults', () => {
  it('an unwritable backup store: one attempt, a clear error, an alert, earlier backups untouched', async () => {
    await withWorkers(loaded, async (client) => {
      const step = '{ id: backup_full, title: backup, activity: backupDatabase, args: { kind: full }, retry: { maximum_attempts: 5, initial_interval: 1s } }';
      const first = await run(client, 'app', step);
      expect(first.outcome).toMatchObject({ status: 'succeeded' });
      const folder = path.join(store, 'app');
      const before = Object.fromEntries(readdirSync(folder).map((f) => [f, sha256(path.join(folder, f))]));

      // Even root cannot write into an immutable folder.
      await execa('chattr', ['+i', folder]);
      let second;
      try {
        second = await run(client, 'app', step);
      } finally {
        await execa('chattr', ['-i', folder]);
      }
      expect(second.outcome).toBeInstanceOf(Error);
      expect(await lastAttempt(client, second.runId, 'backupDatabase')).toEqual({ attempt: 1, previousFailure: null });
      const report = await withPgClient(server.connection, (c) =>
        c.query(`SELECT r.status, s.error FROM pggit_ops.runs r JOIN pggit_ops.steps s USING (run_id) WHERE r.run_id = $1`, [second.runId]),
      );
      expect(report.rows).toEqual([{ status: 'failed', error: expect.stringMatching(new RegExp(`^backup store ${folder} is not writable \\(EPERM`)) }]);
      expect(Object.fromEntries(readdirSync(folder).map((f) => [f, sha256(path.join(folder, f))]))).toEqual(before);
      expect(alerts).toContainEqual(expect.objectContaining({ event: 'run_failed', runId: second.runId }));
    });
  });

  it('PostgreSQL restarted in the middle of a step: the step is tried again and succeeds', async () => {
    await withWorkers(loaded, async (client) => {
      const running = run(client, 'app', '{ id: hold, title: hold, activity: holdSession, args: { seconds: 3 }, retry: { maximum_attempts: 10, initial_interval: 1s } }');
      // Restart once the step's query is under way.
      for (let i = 0; i < 100; i++) {
        const busy = await withPgClient(server.connection, (c) => c.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'`));
        if (busy.rowCount) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await server.restart();
      const { runId, outcome } = await running;
      expect(outcome).toMatchObject({ status: 'succeeded' });
      const last = await lastAttempt(client, runId, 'holdSession');
      expect(last.attempt).toBeGreaterThanOrEqual(2);
      expect(last.previousFailure).toMatch(/terminating connection|server closed the connection|Connection terminated/);
    }, checks.slice(allChecks.length));
  });

  it('the connection limit reached: the step backs off and retries until a connection frees, the worker keeps going', async () => {
    const held = new pg.Client({ ...server.connection, user: 'limited', password: limitedPassword });
    await held.connect();
    try {
      await withWorkers(loaded, async (client) => {
        const running = run(client, 'tight', '{ id: hold, title: hold, activity: holdSession, args: { seconds: 0 }, retry: { maximum_attempts: 20, initial_interval: 1s, maximum_interval: 2s } }');
        await new Promise((r) => setTimeout(r, 4000));
        await held.end();
        const { runId, outcome } = await running;
        expect(outcome).toMatchObject({ status: 'succeeded' });
        const last = await lastAttempt(client, runId, 'holdSession');
        expect(last.attempt).toBeGreaterThanOrEqual(2);
        expect(last.previousFailure).toBe('too many connections for role "limited"');
        // The same worker still serves other runs.
        expect((await run(client, 'app', '{ id: again, title: again, activity: noop }')).outcome).toMatchObject({ status: 'succeeded' });
      }, checks.slice(allChecks.length));
    } finally {
      await held.end().catch(() => undefined);
    }
  });
});
