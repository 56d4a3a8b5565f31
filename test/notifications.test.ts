// Notifications on the real stack: a runbook with findings, an approval and a failing step posts
// to webhooks served by a local HTTP receiver. A receiver that fails once gets the retry; one
// that always fails, or whose URL is not set, is recorded as failed in the ledger; webhook URLs
// never enter the workflow history.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCheck } from '../activities/checks/define.ts';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { approveUpdate, progressQuery, runbookRun } from '../workflows/runbook.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { historyText, testConfig, withWorkers } from './support/temporal.ts';

const reporting = defineCheck({
  name: 'notifyTestReport',
  description: 'reports one finding of each severity',
  kind: 'check',
  args: z.object({}).strict(),
  async run() {
    return {
      summary: '3 findings',
      findings: [
        { code: 'just_info', severity: 'info', message: 'for the record' },
        { code: 'some_warning', severity: 'warning', message: 'look at <this>' },
        { code: 'on_fire', severity: 'critical', message: 'the disk is full' },
      ],
    };
  },
});
const failing = defineCheck({
  name: 'notifyTestFail',
  description: 'always fails',
  kind: 'job',
  args: z.object({}).strict(),
  async run() {
    throw new Error('planted failure');
  },
});

interface Received { hook: string; body: Record<string, unknown> }

/** Webhook receiver: /flaky fails its first request, /broken every request, /chat none. */
async function startReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  let flakyFailed = false;
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const hook = req.url!.slice(1);
      received.push({ hook, body: JSON.parse(text) as Record<string, unknown> });
      const fail = hook === 'broken' || (hook === 'flaky' && !flakyFailed);
      if (hook === 'flaky') flakyFailed = true;
      res.writeHead(fail ? 500 : 200).end(fail ? 'receiver says no' : 'ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

let pgServer: TestPostgres;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let loaded: LoadedConfig;
let db: pg.Client;
const tag = randomUUID().slice(0, 8).toUpperCase();
const envOf = (hook: string) => `PGGIT_OPS_TEST_HOOK_${tag}_${hook.toUpperCase()}`;

beforeAll(async () => {
  pgServer = await startPostgres();
  await installPggit(pgServer.connection);
  db = new pg.Client(pgServer.connection);
  await db.connect();
  receiver = await startReceiver();
  for (const hook of ['flaky', 'broken', 'chat']) process.env[envOf(hook)] = `${receiver.url}/${hook}`;
  loaded = testConfig(
    { app: pgServer.connection },
    {
      ledger: { target: 'app' },
      people: { users: { alice: {} } },
      dashboard: { public_url: 'https://ops.example.test/' },
      notifications: {
        webhooks: [
          { name: 'flaky', url_env: envOf('flaky'), events: ['findings', 'run_failed'] },
          { name: 'broken', url_env: envOf('broken'), events: ['run_failed'] },
          { name: 'chat', url_env: envOf('chat'), format: 'slack', min_severity: 'critical', events: ['findings', 'approval_requested'] },
          { name: 'unset', url_env: envOf('unset'), events: ['run_failed'] },
        ],
      },
    },
  );
});
afterAll(async () => {
  receiver?.server.close();
  await db?.end();
  await pgServer?.stop();
});

describe('notifications', () => {
  it('posts findings, approval requests and failed runs; retries a failing webhook; records the ones that stay failed', async () => {
    const checks = [...allChecks, reporting, failing];
    const runbook = parseRunbook(
      `name: notified
description: findings, a sign-off and a failing step
steps:
  - { id: look, title: look around, activity: notifyTestReport }
  - { id: sign, title: sign off, approval: { approvers: [alice], timeout: 1h } }
  - { id: fail, title: fails, activity: notifyTestFail, retry: { maximum_attempts: 1 } }
`,
      'notified.yaml',
      { checks, people: loaded.config.people },
    );
    const runId = `notified/app/${timeSuffix()}`;
    await withWorkers(
      loaded,
      async (client) => {
        const handle = await client.workflow.start(runbookRun, {
          taskQueue: loaded.config.temporal.task_queues.checks,
          workflowId: runId,
          args: [{ runbook, target: 'app', initiator: 'test', queues: loaded.config.temporal.task_queues }],
        });
        while ((await handle.query(progressQuery)).steps.find((s) => s.id === 'sign')?.status !== 'waiting_approval') {
          await new Promise((r) => setTimeout(r, 100));
        }
        await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'sign', decision: 'approve', approver: 'alice', reason: 'seen' }] });
        await expect(handle.result()).rejects.toThrow();
        const history = await historyText(client, runId);
        expect(history).not.toContain(receiver.url);
      },
      [reporting, failing],
    );

    const byHook = (hook: string) => receiver.received.filter((r) => r.hook === hook).map((r) => r.body);
    // flaky: the findings post failed once and was retried (the failed run may be posted while
    // the retry waits); the failed run went through first time.
    const flaky = byHook('flaky');
    expect(flaky.map((b) => b.event).sort()).toEqual(['findings', 'findings', 'run_failed']);
    const [firstTry, retry] = flaky.filter((b) => b.event === 'findings');
    expect(retry).toEqual(firstTry);
    expect(retry).toMatchObject({ runId, stepId: 'look', url: `https://ops.example.test/run?id=${encodeURIComponent(runId)}` });
    expect((retry!.findings as Array<{ code: string }>).map((f) => f.code)).toEqual(['on_fire', 'some_warning']);
    expect(flaky.find((b) => b.event === 'run_failed')).toMatchObject({ error: expect.stringContaining('planted failure') });
    // chat: Slack text, critical findings only, and the approval request naming who may approve.
    const chat = byHook('chat').map((b) => b.text as string);
    expect(chat).toHaveLength(2);
    const findingsText = chat.find((t) => t.includes('findings'));
    expect(findingsText).toMatch(/step look \(look around\): 1 critical, 0 warning findings/);
    expect(findingsText).toContain('on_fire');
    expect(findingsText).not.toContain('some_warning');
    expect(chat.find((t) => t !== findingsText)).toMatch(/Approval needed for step sign \(sign off\) of notified on app: 1 of alice/);
    // broken: four attempts (the retry policy's maximum), then recorded as failed.
    expect(byHook('broken')).toHaveLength(4);

    const { rows } = await db.query(
      `SELECT webhook, event, step_id, status, attempts, last_error FROM pggit_ops.notifications WHERE run_id = $1 ORDER BY webhook, event`,
      [runId],
    );
    expect(rows).toEqual([
      { webhook: 'broken', event: 'run_failed', step_id: null, status: 'failed', attempts: 4, last_error: 'HTTP 500 Internal Server Error: receiver says no' },
      { webhook: 'chat', event: 'approval_requested', step_id: 'sign', status: 'sent', attempts: 1, last_error: null },
      { webhook: 'chat', event: 'findings', step_id: 'look', status: 'sent', attempts: 1, last_error: null },
      { webhook: 'flaky', event: 'findings', step_id: 'look', status: 'sent', attempts: 2, last_error: null },
      { webhook: 'flaky', event: 'run_failed', step_id: null, status: 'sent', attempts: 1, last_error: null },
      { webhook: 'unset', event: 'run_failed', step_id: null, status: 'failed', attempts: 1, last_error: `env ${envOf('unset')} (the URL of webhook unset) is not set` },
    ]);
  });
});
