// The run commands of the CLI, as an operator and approvers use them, against a real worker:
// run / status / approve / reject / list / report / cancel, --json, exit codes, identities from
// operator tokens, the official temporal CLI sending the same approval, and runbook validation.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTemporalCli, projectRoot } from '../worker/tools.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { testConfig, withWorkers } from './support/temporal.ts';
import { rememberSecret } from './support/secrets.ts';
import { runCli } from './support/cli.ts';
import { progressQuery } from '../workflows/runbook.ts';

const tokens = { alice: 'token-of-alice', bob: 'token-of-bob', carol: 'token-of-carol' };
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

let server: TestPostgres;
let loaded: LoadedConfig;
let passwordEnv: string;
let dir: string;

beforeAll(async () => {
  Object.values(tokens).forEach(rememberSecret);
  server = await startPostgres();
  await installPggit(server.connection);
  loaded = testConfig(
    { app: server.connection },
    {
      ledger: { target: 'app' },
      people: {
        users: { alice: { token_sha256: sha(tokens.alice) }, bob: { token_sha256: sha(tokens.bob) }, carol: {} },
        groups: { dba: ['bob', 'carol'] },
      },
    },
  );
  passwordEnv = loaded.config.targets.app!.password_env!;
  dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-runbooks-'));
  writeFileSync(path.join(dir, 'gated.yaml'), `name: gated
description: a check, then a destructive job behind a DBA approval
steps:
  - { id: look, title: Look first, activity: noop }
  - id: act
    title: Do the risky thing
    activity: wait
    args: { seconds: 0 }
    approval: { approvers: ["group:dba"], timeout: 1h }
`);
  writeFileSync(path.join(dir, 'brief.yaml'), `name: brief
description: a destructive job behind a two-person approval that expires quickly
steps:
  - id: act
    title: Do the risky thing
    activity: wait
    args: { seconds: 0 }
    approval: { approvers: ["group:dba"], quorum: 2, timeout: 30s, on_timeout: reject }
`);
  writeFileSync(path.join(dir, 'broken.yaml'), `name: broken
description: has a typo
steps:
  - { id: look, title: Look, activity: noopp }
`);
});
afterAll(() => server?.stop());

/** The real CLI, as `who` (an operator token), with the target's secret in its environment. */
function cli(args: string[], who?: keyof typeof tokens) {
  return runCli(loaded, args, { [passwordEnv]: server.connection.password, ...(who ? { PGGIT_OPS_OPERATOR_TOKEN: tokens[who] } : {}) });
}

describe('pggit-ops run and approvals', () => {
  it('starts a run, refuses the initiator and strangers, accepts a DBA, and reports', async () => {
    await withWorkers(loaded, async () => {
      const started = await cli(['run', path.join(dir, 'gated.yaml'), '--db', 'app', '--json'], 'bob');
      expect(started.exitCode, started.stderr).toBe(0);
      const { runId } = JSON.parse(started.stdout) as { runId: string };
      expect(runId).toMatch(/^gated\/app\/\d{8}T\d{6}Z-[0-9a-f]{4}$/);

      let status: { steps: Array<{ id: string; status: string }> } | undefined;
      for (let i = 0; i < 100; i++) {
        status = JSON.parse((await cli(['status', runId, '--json'])).stdout);
        if (status!.steps[1]!.status === 'waiting_approval') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(status!.steps.map((s) => s.status)).toEqual(['succeeded', 'waiting_approval']);

      const own = await cli(['approve', runId, '--step', 'act', '--json'], 'bob');
      expect(own.exitCode).toBe(1);
      expect(JSON.parse(own.stdout)).toMatchObject({ accepted: false, reason: 'bob started this run and cannot approve its destructive step act (four eyes)' });
      const stranger = await cli(['approve', runId, '--step', 'act'], 'alice');
      expect(stranger.exitCode).toBe(1);
      expect(stranger.stderr).toContain('refused: alice is not an approver for step act (approvers: bob, carol)');

      // carol has no token: she approves with the official temporal CLI, the same Update.
      const official = await execa(findTemporalCli(), [
        'workflow', 'update', 'execute', '--address', loaded.config.temporal.address, '--namespace', loaded.config.temporal.namespace,
        '--workflow-id', runId, '--name', 'approve', '--input', JSON.stringify({ stepId: 'act', decision: 'approve', approver: 'carol', reason: 'ok from carol' }),
      ], { reject: false });
      expect(official.exitCode, official.stderr).toBe(0);

      const report = await cli(['report', runId, '--json']);
      for (let i = 0; i < 50 && JSON.parse((await cli(['report', runId, '--json'])).stdout).status === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const final = JSON.parse((await cli(['report', runId, '--json'])).stdout);
      expect(report.exitCode).toBe(0);
      expect(final).toMatchObject({ runId, runbook: 'gated', target: 'app', initiator: 'bob', status: 'succeeded' });
      expect(final.approvals.map((a: { approver: string; outcome: string }) => [a.approver, a.outcome])).toEqual([
        ['bob', 'refused'], ['alice', 'refused'], ['carol', 'accepted'],
      ]);
      const markdown = await cli(['report', runId]);
      expect(markdown.stdout).toContain('# gated on app: succeeded');
      expect(markdown.stdout).toContain('| act | carol | approve |');

      const list = JSON.parse((await cli(['list', '--db', 'app', '--json'])).stdout) as Array<{ run_id: string }>;
      expect(list.map((r) => r.run_id)).toContain(runId);
    });
  });

  it('--wait follows a run to its end and exits with the run\'s outcome; a rejection exits 1', async () => {
    await withWorkers(loaded, async () => {
      const waiting = cli(['run', path.join(dir, 'gated.yaml'), '--db', 'app', '--wait'], 'alice');
      let runId: string | undefined;
      for (let i = 0; i < 100 && !runId; i++) {
        const listed = JSON.parse((await cli(['list', '--runbook', 'gated', '--limit', '1', '--json'])).stdout) as Array<{ run_id: string; status: string; initiator: string }>;
        if (listed[0]?.status === 'running' && listed[0].initiator === 'alice') runId = listed[0].run_id;
        else await new Promise((r) => setTimeout(r, 200));
      }
      for (let i = 0; i < 50; i++) {
        const rejected = await cli(['reject', runId!, '--step', 'act', '--reason', 'not today'], 'bob');
        if (rejected.exitCode === 0) break;
        await new Promise((r) => setTimeout(r, 200)); // the gate may not be open yet
      }
      const result = await waiting;
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toContain('waiting for 1 of bob, carol');
      expect(result.stdout).toContain('REJ  act: rejected by bob: not today');
      expect(result.stdout).toContain('# gated on app: failed');
    });
  });

  it('cancels a run', async () => {
    await withWorkers(loaded, async () => {
      const { runId } = JSON.parse((await cli(['run', path.join(dir, 'gated.yaml'), '--db', 'app', '--json'], 'alice')).stdout);
      for (let i = 0; i < 100; i++) {
        const s = JSON.parse((await cli(['status', runId, '--json'])).stdout);
        if (s.steps[1].status === 'waiting_approval') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const cancelled = await cli(['cancel', runId, '--wait']);
      expect(cancelled.exitCode, cancelled.stderr).toBe(0);
      expect(JSON.parse((await cli(['report', runId, '--json'])).stdout).status).toBe('cancelled');
    });
  });
});

describe('bad input', () => {
  it('exits 2 naming the file, line and step of a broken runbook, and for an unknown target or option', async () => {
    const broken = await cli(['run', path.join(dir, 'broken.yaml'), '--db', 'app']);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(/broken\.yaml:4:\d+: step 'look': .*unknown activity 'noopp'/);
    const validate = await cli(['runbooks', 'validate', path.join(dir, 'gated.yaml'), path.join(dir, 'broken.yaml')]);
    expect(validate.exitCode).toBe(2);
    expect(validate.stdout).toContain(`ok ${path.join(dir, 'gated.yaml')}`);
    const target = await cli(['run', path.join(dir, 'gated.yaml'), '--db', 'nope']);
    expect(target.exitCode).toBe(2);
    expect(target.stderr).toContain("unknown target 'nope'");
    expect((await cli(['run', 'gated'])).exitCode).toBe(2); // missing --db
    expect((await cli(['list', '--limit', 'lots'])).exitCode).toBe(2);
    const ghost = await cli(['report', 'daily/app/19700101T000000Z-0000']);
    expect(ghost.exitCode).toBe(2);
    expect(ghost.stderr).toContain("no run 'daily/app/19700101T000000Z-0000' in the ledger");
    const badToken = await execa('node', [path.join(projectRoot, 'cli/bin.mjs'), '--config', loaded.file!, 'approve', 'x', '--step', 'y'], {
      reject: false, env: { PGGIT_OPS_OPERATOR_TOKEN: 'forged', [passwordEnv]: server.connection.password },
    });
    expect(badToken.exitCode).toBe(2);
    expect(badToken.stderr).toContain('PGGIT_OPS_OPERATOR_TOKEN matches no user');
  });
});

describe('approvals that must not count', () => {
  // Only the decisions go through the CLI (each call starts a process); waiting uses the client.
  it('refuses a decision for a step that is not waiting, a second one from the same person, and one after the gate timed out; a replayed request counts once; each refusal is recorded', async () => {
    await withWorkers(loaded, async (client) => {
      const start = async (runbook: string) => JSON.parse((await cli(['run', path.join(dir, runbook), '--db', 'app', '--json'], 'alice')).stdout).runId as string;
      const waiting = async (runId: string) => {
        for (let i = 0; i < 300; i++) {
          const progress = await client.workflow.getHandle(runId).query(progressQuery);
          if (progress.steps.find((s) => s.id === 'act')?.status === 'waiting_approval') return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`${runId} never waited for approval of act`);
      };
      const gated = await start('gated.yaml');
      const brief = await start('brief.yaml');
      await waiting(gated);
      await waiting(brief);

      // "look" is a step of the gated run, but only "act" waits: a decision meant for another
      // run's (or another) step cannot land on this one.
      const elsewhere = await cli(['approve', gated, '--step', 'look', '--json'], 'bob');
      expect(elsewhere.exitCode).toBe(1);
      expect(JSON.parse(elsewhere.stdout).reason).toBe('step look is not waiting for approval (step act is)');

      // The same request sent twice is one decision; the same person under a new request is refused.
      const first = await cli(['approve', brief, '--step', 'act', '--request-id', 'req-1', '--json'], 'bob');
      expect(first.exitCode, first.stderr).toBe(0);
      const replayed = await cli(['approve', brief, '--step', 'act', '--request-id', 'req-1', '--json'], 'bob');
      expect(replayed.exitCode, replayed.stderr).toBe(0);
      const again = await cli(['approve', brief, '--step', 'act', '--json'], 'bob');
      expect(again.exitCode).toBe(1);
      expect(JSON.parse(again.stdout).reason).toBe('bob has already decided on step act');

      // Nobody else approves in time: the gate rejects, the run ends, a late approval is refused.
      const final = await client.workflow.getHandle(brief).result().then(() => undefined, (err: Error) => err);
      expect(final).toBeInstanceOf(Error);
      const late = await cli(['approve', brief, '--step', 'act', '--json'], 'bob');
      expect(late.exitCode, late.stderr).toBe(1);
      expect(JSON.parse(late.stdout).reason).toBe(`run ${brief} is not running (it has finished, or does not exist): approvals are closed`);
      await client.workflow.getHandle(gated).cancel();

      const db = new pg.Client(server.connection);
      await db.connect();
      try {
        const { rows } = await db.query(
          // Refusals are written by the CLI at once, acceptances by the run when its gate closes.
          `SELECT run_id, approver, outcome, refusal_reason FROM pggit_ops.approvals WHERE run_id = ANY ($1) ORDER BY run_id, outcome, refusal_reason`,
          [[gated, brief]],
        );
        expect(rows).toEqual([
          { run_id: brief, approver: 'bob', outcome: 'accepted', refusal_reason: null },
          { run_id: brief, approver: 'bob', outcome: 'refused', refusal_reason: 'bob has already decided on step act' },
          { run_id: brief, approver: 'bob', outcome: 'refused', refusal_reason: `run ${brief} is not running (it has finished, or does not exist): approvals are closed` },
          { run_id: gated, approver: 'bob', outcome: 'refused', refusal_reason: 'step look is not waiting for approval (step act is)' },
        ]);
      } finally {
        await db.end();
      }
    });
  }, 300_000);
});

describe('ledger rows of the refusals', () => {
  it('are kept with their reasons', async () => {
    const db = new pg.Client(server.connection);
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT approver, refusal_reason FROM pggit_ops.approvals WHERE outcome = 'refused' ORDER BY id LIMIT 2`);
      expect(rows).toEqual([
        { approver: 'bob', refusal_reason: 'bob started this run and cannot approve its destructive step act (four eyes)' },
        { approver: 'alice', refusal_reason: 'alice is not an approver for step act (approvers: bob, carol)' },
      ]);
    } finally {
      await db.end();
    }
  });
});
