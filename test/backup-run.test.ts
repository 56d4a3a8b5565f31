// `pggit-ops backup` and `pggit-ops drill` end to end on a real worker: verified full and
// pggit-only backups into the store, listed, found by the daily check; a drill restores the newest
// (or a chosen one) into a scratch database, proves it and reports RTO and RPO; a damaged backup
// fails the drill.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../worker/config.ts';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { testConfig, withWorkers } from './support/temporal.ts';
import { flipMiddleBytes } from './support/damage.ts';
import { runCli } from './support/cli.ts';

let server: TestPostgres;
let loaded: LoadedConfig;
const store = mkdtempSync(path.join(tmpdir(), 'pggit-ops-store-'));

beforeAll(async () => {
  server = await startPostgres();
  await loadPagila(server.url(server.connection.database), ['schema']);
  await installPggit(server.connection);
  loaded = testConfig({ app: server.connection }, { ledger: { target: 'app' }, backups: { dir: store } });
});
afterAll(() => server?.stop());

function cli(args: string[]) {
  return runCli(loaded, args, { [loaded.config.targets.app!.password_env!]: server.connection.password });
}

describe('pggit-ops backup', () => {
  it('takes verified backups into the store, lists them, and the daily check finds them', async () => {
    await withWorkers(loaded, async () => {
      const run = await cli(['backup', '--db', 'app', '--wait', '--json']);
      expect(run.exitCode, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as { status: string; steps: Array<{ id: string; status: string; findings: Array<{ code: string }> }> };
      expect(report.status).toBe('succeeded');
      expect(report.steps.map((s) => [s.id, s.status])).toEqual([['backup_full', 'succeeded'], ['backup_pggit', 'succeeded'], ['retention', 'succeeded']]);
      expect(report.steps[0]!.findings.map((f) => f.code)).toEqual(['backup_verified']);

      const listed = JSON.parse((await cli(['backups', 'list', '--db', 'app', '--json'])).stdout) as Array<{ kind: string; status: string; verified: boolean; path: string }>;
      expect(listed.map((b) => [b.kind, b.status, b.verified]).sort()).toEqual([['full', 'succeeded', true], ['pggit', 'succeeded', true]]);
      for (const b of listed) expect(existsSync(path.join(store, b.path))).toBe(true);

      const daily = await cli(['run', 'daily', '--db', 'app', '--wait', '--json']);
      const dailyReport = JSON.parse(daily.stdout) as { steps: Array<{ id: string; findings: Array<{ code: string; severity: string }> }> };
      expect(dailyReport.steps.find((s) => s.id === 'backup_status')!.findings).toEqual([expect.objectContaining({ code: 'backup_ok', severity: 'info' })]);
    });
  });
});

interface Report { status: string; steps: Array<{ id: string; status: string; data: Record<string, unknown> | null; findings: Array<{ code: string; severity: string }> }> }

async function scratchDatabases(): Promise<string[]> {
  const db = new pg.Client(server.connection);
  await db.connect();
  try {
    return (await db.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pggit_drill_%'`)).rows.map((r) => r.datname);
  } finally {
    await db.end();
  }
}

describe('pggit-ops drill', () => {
  it('restores the newest verified backup, proves it, reports pass, RTO and RPO, and leaves no scratch database', async () => {
    await withWorkers(loaded, async () => {
      // The drill compares the restored copy with the source as it is now: take the backup it
      // restores right before it (the daily run above wrote to the source since the first one).
      expect((await cli(['backup', '--db', 'app', '--wait'])).exitCode).toBe(0);
      const run = await cli(['drill', '--db', 'app', '--wait', '--json']);
      expect(run.exitCode, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as Report;
      const drill = report.steps.find((s) => s.id === 'restore_drill')!;
      expect(drill.status).toBe('succeeded');
      expect(drill.data, JSON.stringify(drill.findings)).toMatchObject({ pass: true, performed: true, rto_seconds: expect.any(Number), rpo_seconds: expect.any(Number) });
      expect(drill.findings.filter((f) => f.severity === 'critical')).toEqual([]);
      expect(report.steps.find((s) => s.id === 'pitr_readiness')!.findings.map((f) => f.code)).toContain('archive_mode_off');
      expect(await scratchDatabases()).toEqual([]);
    });
  });

  it('drill --backup drills the chosen backup; one it cannot drill is refused by the CLI and by the step', async () => {
    // Retention keeps one backup a day, so the newer backup is taken without it.
    const runbooks = mkdtempSync(path.join(tmpdir(), 'pggit-ops-runbooks-'));
    writeFileSync(path.join(runbooks, 'full-only.yaml'), 'name: full-only\ndescription: a full backup, no retention\nsteps:\n  - { id: full, title: Full backup, activity: backupDatabase }\n');
    await withWorkers(loaded, async () => {
      expect((await cli(['run', path.join(runbooks, 'full-only.yaml'), '--db', 'app', '--wait'])).exitCode).toBe(0);
      const listed = JSON.parse((await cli(['backups', 'list', '--db', 'app', '--json'])).stdout) as Array<{ backup_id: string; kind: string; verified: boolean }>;
      const fulls = listed.filter((b) => b.kind === 'full' && b.verified);
      expect(fulls.length).toBe(2);
      const older = fulls[1]!.backup_id; // the list is newest first: without --backup the drill would take fulls[0]
      const run = await cli(['drill', '--db', 'app', '--backup', older, '--wait', '--json']);
      const report = JSON.parse(run.stdout) as Report;
      expect(report.status, run.stderr).toBe('succeeded');
      expect(report.steps.find((s) => s.id === 'restore_drill')!.data).toMatchObject({ performed: true, backup_id: older });

      // The same refusal inside the run, for a run started without the CLI's check.
      const inRun = await cli(['run', 'drill', '--db', 'app', '--param', 'backup_id=no-such-backup', '--wait', '--json']);
      expect(inRun.exitCode).toBe(1);
      expect((JSON.parse(inRun.stdout) as { error: string }).error).toContain("backup_id: no backup 'no-such-backup' in the catalog");
    });
    const unknown = await cli(['drill', '--db', 'app', '--backup', 'no-such-backup']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("--backup no-such-backup: no backup 'no-such-backup' in the catalog (pggit-ops backups list --db app)");
    const listed = JSON.parse((await cli(['backups', 'list', '--db', 'app', '--json'])).stdout) as Array<{ backup_id: string; kind: string }>;
    const pggitOnly = listed.find((b) => b.kind === 'pggit')!.backup_id;
    const partial = await cli(['drill', '--db', 'app', '--backup', pggitOnly]);
    expect(partial.exitCode).toBe(2);
    expect(partial.stderr).toContain(`backup ${pggitOnly} holds the pggit schema alone`);
  });

  it('fails the drill with a clear finding when the backup file is damaged', async () => {
    const listed = JSON.parse((await cli(['backups', 'list', '--db', 'app', '--json'])).stdout) as Array<{ kind: string; path: string }>;
    const file = path.join(store, listed.find((b) => b.kind === 'full')!.path);
    // Flip bytes in the middle of the archive: the catalog still says it is verified.
    flipMiddleBytes(file);
    await withWorkers(loaded, async () => {
      const run = await cli(['drill', '--db', 'app', '--wait', '--json']);
      const report = JSON.parse(run.stdout) as Report;
      const drill = report.steps.find((s) => s.id === 'restore_drill')!;
      expect(drill.data).toMatchObject({ pass: false, performed: true });
      // Where the damage lands decides what pg_restore says: it cannot read the archive on
      // (backup_unreadable), it stops (restore_failed), or it reports errors and goes on (restore_errors).
      expect(drill.findings).toEqual(expect.arrayContaining([expect.objectContaining({ code: expect.stringMatching(/^(backup_unreadable|restore_failed|restore_errors)$/), severity: 'critical' })]));
      expect(await scratchDatabases()).toEqual([]);
    });
  });
});
