// The dashboard on a real stack (Temporal test server, workers, PostgreSQL, the dashboard) used
// as a person would, through headless Chromium: anonymous visitors see only the sign-in page;
// someone not on a step's approver list is refused by the run (and the refusal is recorded);
// the approver approves and watches the run finish. /metrics is read with a Prometheus parser.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCheck } from '../activities/checks/define.ts';
import { allChecks } from '../activities/checks/index.ts';
import { parseRunbook } from '../runbooks/loader.ts';
import { hashPassword } from '../web/passwords.ts';
import { serveDashboard } from '../web/server.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { freePort } from '../worker/local-postgres.ts';
import { projectRoot } from '../worker/tools.ts';
import { timeSuffix } from '../workflows/ids.ts';
import { progressQuery, runbookRun } from '../workflows/runbook.ts';
import { artifactPath, launchChromium } from './support/browser.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { startWorkers, testConfig } from './support/temporal.ts';

const warns = defineCheck({
  name: 'dashboardTestWarn',
  description: 'reports one warning',
  kind: 'check',
  args: z.object({}).strict(),
  async run() {
    return { summary: '1 warning', findings: [{ code: 'index_bloat', severity: 'warning', message: 'index film_pkey is bloated' }] };
  },
});

const passwords = { alice: `alice-${randomBytes(6).toString('hex')}`, dave: `dave-${randomBytes(6).toString('hex')}` };
const bobToken = `bob-token-${randomBytes(6).toString('hex')}`;

let server: TestPostgres;
let loaded: LoadedConfig;
let db: pg.Client;
let workers: Awaited<ReturnType<typeof startWorkers>>;
let dashboard: Awaited<ReturnType<typeof serveDashboard>>;
let browser: Browser;
let url: string;
let runId: string;

beforeAll(async () => {
  server = await startPostgres();
  await installPggit(server.connection);
  db = new pg.Client(server.connection);
  await db.connect();
  loaded = testConfig(
    { app: server.connection },
    {
      ledger: { target: 'app' },
      people: {
        users: {
          alice: { password_scrypt: await hashPassword(passwords.alice) },
          bob: { token_sha256: createHash('sha256').update(bobToken).digest('hex') },
          dave: { password_scrypt: await hashPassword(passwords.dave) },
        },
        groups: { dba: ['alice', 'bob'] },
      },
      dashboard: { host: '127.0.0.1' },
    },
  );
  // A target nothing answers at: /metrics must say so, not fail.
  loaded.config.targets.gone = { host: '127.0.0.1', port: await freePort(), database: 'gone', user: 'nobody' };
  workers = await startWorkers(loaded, [warns]);
  dashboard = await serveDashboard(loaded, workers.client, 0);
  url = dashboard.url;
  browser = await launchChromium();
  runId = await startRun(workers.client);
  await seedLedger();
});
afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await workers?.stop();
  await db?.end();
  await server?.stop();
});

/** A run that finds a warning, then waits for alice's sign-off, then does one more step. */
async function startRun(client: Client): Promise<string> {
  const runbook = parseRunbook(
    `name: dash
description: a run to approve on the dashboard
steps:
  - { id: look, title: Look for bloat, activity: dashboardTestWarn }
  - { id: sign, title: Sign the index rebuild, approval: { approvers: [alice], timeout: 1h } }
  - { id: after, title: After the sign-off, activity: noop }
`,
    'dash.yaml',
    { checks: [...allChecks, warns], people: loaded.config.people },
  );
  const id = `dash/app/${timeSuffix()}`;
  const handle = await client.workflow.start(runbookRun, {
    taskQueue: loaded.config.temporal.task_queues.checks,
    workflowId: id,
    args: [{ runbook, target: 'app', initiator: 'carol', queues: loaded.config.temporal.task_queues }],
  });
  while ((await handle.query(progressQuery)).steps.find((s) => s.id === 'sign')?.status !== 'waiting_approval') await new Promise((r) => setTimeout(r, 100));
  return id;
}

/**
 * What the other runbooks would have recorded: a verified backup an hour old, a passed drill,
 * three daily size snapshots and a weekly capacity projection.
 */
async function seedLedger(): Promise<void> {
  await db.query(`INSERT INTO pggit_ops.backups (backup_id, idempotency_key, target, kind, format, path, started_at, finished_at, status, verified, size_bytes, duration_ms)
                  VALUES ('app-full-seeded', 'seeded/backup', 'app', 'full', 'custom', 'app/seeded.dump', now() - interval '61 minutes', now() - interval '1 hour', 'succeeded', true, 3145728, 1200)`);
  await db.query(`INSERT INTO pggit_ops.runs (run_id, runbook, target, initiator, status, finished_at) VALUES ('drill/app/seeded', 'drill', 'app', 'carol', 'succeeded', now())`);
  await db.query(`INSERT INTO pggit_ops.steps (run_id, step_id, position, activity, status, data, started_at, finished_at, duration_ms)
                  VALUES ('drill/app/seeded', 'restore_drill', 1, 'restoreDrill', 'succeeded',
                          '{"pass": true, "performed": true, "rto_seconds": 12.5, "rpo_seconds": 3600, "backup_id": "app-full-seeded"}', now() - interval '13 seconds', now(), 13000)`);
  await db.query(`INSERT INTO pggit_ops.stat_snapshots (target, run_id, kind, name, metrics, taken_at)
                  SELECT 'app', 'daily/app/seeded-' || d, 'database', 'app', jsonb_build_object('pggit_bytes', 1048576 * (10 - d), 'history_rows', 1000 * (10 - d)), now() - d * interval '1 day'
                    FROM generate_series(1, 3) AS d`);
  await db.query(`INSERT INTO pggit_ops.runs (run_id, runbook, target, initiator, status, finished_at) VALUES ('weekly/app/seeded', 'weekly', 'app', 'carol', 'succeeded', now())`);
  await db.query(`INSERT INTO pggit_ops.steps (run_id, step_id, position, activity, status, data, started_at, finished_at, duration_ms)
                  VALUES ('weekly/app/seeded', 'update_capacity_projections', 1, 'capacityProjection', 'succeeded',
                          '{"pggit_bytes": 9437184, "projected_6_months_bytes": 200000000, "projected_1_year_bytes": 400000000, "confidence": "low", "basis": "seeded"}',
                          now(), now(), 5)`);
}

/** /metrics, parsed (which also proves it is valid exposition text), and as text. */
async function metrics(): Promise<{ families: PromFamily[]; text: string }> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { families: parsePrometheusTextFormat(text), text };
}

function sample({ families }: { families: PromFamily[] }, name: string, labels: Record<string, string> = {}) {
  return families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

/**
 * A histogram's count for one label set. The parser folds all of a histogram's label sets into
 * one (it only handles unlabelled histograms), so the `_count` series is read from the text.
 */
function histogramCount({ text }: { text: string }, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}_count{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function signIn(user: string, secret: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${url}/approvals`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('input[name=user]', user);
  await page.fill('input[name=secret]', secret);
  await page.click('button:has-text("Sign in")');
  return page;
}

describe('dashboard', () => {
  it('refuses to serve plain http off loopback (passwords and session cookies)', async () => {
    const exposed = { ...loaded, config: { ...loaded.config, dashboard: { ...loaded.config.dashboard, host: '0.0.0.0' } } };
    await expect(serveDashboard(exposed, workers.client, 0)).rejects.toThrow(/dashboard\.host 0\.0\.0\.0: only a loopback address may serve plain http.*set dashboard\.tls/);
  });

  it('pauses and resumes a schedule', async () => {
    const scheduleId = `dashboard-test/${randomBytes(4).toString('hex')}`;
    const handle = await workers.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1 day' }] },
      action: { type: 'startWorkflow', workflowType: 'healthCheck', args: [{ target: 'app' }], taskQueue: loaded.config.temporal.task_queues.checks },
    });
    try {
      const page = await signIn('alice', passwords.alice);
      await page.goto(`${url}/schedules`);
      const row = page.locator('tr', { hasText: scheduleId });
      await row.locator('input[name=note]').fill('maintenance window');
      await row.locator('button:has-text("Pause")').click();
      expect((await handle.describe()).state).toMatchObject({ paused: true, note: 'maintenance window (by alice, dashboard)' });
      expect(await row.textContent()).toContain('paused');
      await row.locator('button:has-text("Resume")').click();
      expect((await handle.describe()).state.paused).toBe(false);
    } finally {
      await handle.delete();
    }
  });

  it('shows anonymous visitors the sign-in page and nothing else', async () => {
    const page = await (await browser.newContext()).newPage();
    for (const path of ['/runs', `/run?id=${encodeURIComponent(runId)}`, '/approvals', '/backups', '/capacity', '/alerts', '/schedules']) {
      const response = await page.goto(`${url}${path}`);
      expect(response!.status()).toBe(200);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(await page.content()).not.toContain(runId);
    }
    const report = await fetch(`${url}/run/report.md?id=${encodeURIComponent(runId)}`, { redirect: 'manual' });
    expect(report.status).toBe(303);
    const post = await fetch(`${url}/approvals`, { method: 'POST', body: new URLSearchParams({ runId, stepId: 'sign', decision: 'approve' }) });
    expect(post.status).toBe(401);
    // A wrong password gets the sign-in page again, not a session.
    const wrong = await signIn('alice', 'not-her-password');
    expect(await wrong.textContent('body')).toContain('Sign-in failed');
    expect(new URL(wrong.url()).pathname).toBe('/login');
  });

  it('serves /metrics: the guide metrics per target, an unreachable target as down, the ledger state', async () => {
    const families = await metrics();
    expect(sample(families, 'pggit_target_up', { target: 'app' })?.value).toBe('1');
    expect(sample(families, 'pggit_target_up', { target: 'gone' })?.value).toBe('0');
    for (const name of ['pggit_objects_tracked', 'pggit_history_records', 'pggit_storage_mb']) {
      expect(Number(sample(families, name, { target: 'app' })?.value), name).toBeGreaterThanOrEqual(0);
      expect(sample(families, name, { target: 'gone' }), name).toBeUndefined();
    }
    expect(sample(families, 'pggit_ops_pending_approvals', { target: 'app' })?.value).toBe('1');
    expect(sample(families, 'pggit_ops_runs', { runbook: 'dash', status: 'running' })?.value).toBe('1');
    expect(Number(sample(families, 'pggit_ops_last_verified_backup_age_seconds', { target: 'app' })?.value)).toBeGreaterThanOrEqual(3600);
    expect(sample(families, 'pggit_ops_last_drill_pass', { target: 'app' })?.value).toBe('1');
    expect(sample(families, 'pggit_ops_last_drill_rto_seconds', { target: 'app' })?.value).toBe('12.5');
    expect(histogramCount(families, 'pggit_ops_step_duration_seconds', 'activity="dashboardTestWarn",status="succeeded"')).toBe(1);

    // The shipped Grafana dashboard asks only for metrics that are served.
    const grafana = readFileSync(path.join(projectRoot, 'web/grafana/pggit-ops.json'), 'utf8');
    const used = new Set([...grafana.matchAll(/\b(pggit_[a-z0-9_]+?)(?:_bucket)?\b/g)].map((m) => m[1]!));
    expect([...used].filter((name) => !families.families.some((f) => f.name === name))).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });

  it('refuses a decision from someone the step does not list, and records the refusal', async () => {
    const page = await signIn('dave', passwords.dave);
    expect(new URL(page.url()).pathname).toBe('/approvals');
    const section = page.locator(`section.approval[data-run="${runId}"][data-step="sign"]`);
    await expect(section.textContent()).resolves.toContain('You (dave) are not among the approvers');
    await section.locator('input[name=reason]').first().fill('me too');
    await section.locator('button:has-text("Approve")').click();
    expect(await page.textContent('[role=status]')).toMatch(/^Refused: .*dave/);
    const { rows } = await db.query(`SELECT approver, outcome, refusal_reason FROM pggit_ops.approvals WHERE run_id = $1`, [runId]);
    expect(rows).toEqual([{ approver: 'dave', outcome: 'refused', refusal_reason: expect.stringContaining('dave') }]);
  });

  it('checks CSRF tokens and wants a reason for a rejection (bob signs in with his operator token)', async () => {
    const page = await signIn('bob', bobToken);
    expect(new URL(page.url()).pathname).toBe('/approvals');
    const form = { runId, stepId: 'sign', decision: 'reject', requestId: 'csrf-test' };
    expect((await page.request.post(`${url}/approvals`, { form })).status()).toBe(403);
    const csrf = await page.locator('section.approval input[name=_csrf]').first().inputValue();
    const noReason = await page.request.post(`${url}/approvals`, { form: { ...form, _csrf: csrf } });
    expect(noReason.status()).toBe(400);
    expect(await noReason.text()).toContain('reason: a rejection needs a reason');
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM pggit_ops.approvals WHERE run_id = $1 AND approver = 'bob'`, [runId]);
    expect(rows[0].n).toBe(0);
  });

  it('lets the approver approve and shows the run finishing', async () => {
    const page = await signIn('alice', passwords.alice);
    const section = page.locator(`section.approval[data-run="${runId}"][data-step="sign"]`);
    await section.locator('input[name=reason]').first().fill('rebuild tonight');
    await section.locator('button:has-text("Approve")').click();
    expect(await page.textContent('[role=status]')).toBe(`Approved step sign of ${runId} as alice.`);
    await page.click('a:has-text("The run")');
    for (let i = 0; !(await page.textContent('main > p'))?.includes('succeeded'); i++) {
      if (i > 50) throw new Error(`the run page never showed the run succeeded:\n${await page.textContent('main')}`);
      await new Promise((r) => setTimeout(r, 200));
      await page.reload();
    }
    const main = await page.textContent('main');
    expect(main).toContain('index film_pkey is bloated');
    expect(main).toMatch(/sign\s*alice\s*approve/);
    await page.screenshot({ path: artifactPath('dashboard-run.png'), fullPage: true });
    const report = await page.request.get(`${url}/run/report.md?id=${encodeURIComponent(runId)}`);
    expect(report.headers()['content-disposition']).toMatch(/^attachment; filename="dash_app_/);
    expect(await report.text()).toContain('# dash on app: succeeded');

    await page.goto(`${url}/backups`);
    expect(await page.textContent('main')).toMatch(/pass\s*12\.5 s\s*60 min\s*app-full-seeded/);
    await page.goto(`${url}/alerts`);
    expect(await page.textContent('main')).toContain('index film_pkey is bloated');
    await page.goto(`${url}/capacity`);
    // Storage measured and projected, and history rows: three lines.
    expect(await page.locator('section.capacity[data-target="app"] svg polyline').count()).toBe(3);
    expect(await page.textContent('section.capacity[data-target="app"]')).toContain('381.5 MiB in 12 months (confidence low: seeded)');
    await page.screenshot({ path: artifactPath('dashboard-capacity.png'), fullPage: true });
    const families = await metrics();
    expect(sample(families, 'pggit_ops_runs', { runbook: 'dash', status: 'succeeded' })?.value).toBe('1');
    expect(sample(families, 'pggit_ops_pending_approvals', { target: 'app' })).toBeUndefined();
    expect(histogramCount(families, 'pggit_ops_step_duration_seconds', 'activity="noop",status="succeeded"')).toBe(1);
  });
});
