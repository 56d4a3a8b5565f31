// `pggit-ops backup` end to end: the backup runbook on a real worker takes a verified full and
// pggit-only backup into the store, the catalog lists them, and the daily check then finds them.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../worker/config.ts';
import { projectRoot } from '../worker/tools.ts';
import { loadPagila } from './support/pagila.ts';
import { installPggit } from './support/pggit.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { testConfig, withWorkers } from './support/temporal.ts';

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
  const passwordEnv = loaded.config.targets.app!.password_env!;
  return execa('node', [path.join(projectRoot, 'cli/bin.mjs'), '--config', loaded.file!, ...args], {
    reject: false,
    env: { [passwordEnv]: server.connection.password },
  });
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
