// `pggit-ops up` end to end, as a person runs it: the stack comes up, the Temporal UI answers, the
// official temporal CLI lists the completed health check; Ctrl-C stops what it started; a second
// run reuses the data.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../worker/local-postgres.ts';
import { findTemporalCli, projectRoot } from '../worker/tools.ts';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Starts `pggit-ops up` and resolves with its output once it says it is up. */
async function startUp(configFile: string): Promise<{ child: ResultPromise; output: () => string }> {
  const child = execa('node', [path.join(projectRoot, 'cli/bin.mjs'), 'up', '--config', configFile], { all: true, reject: false });
  let output = '';
  child.all!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 90_000;
  while (!output.includes('pggit-ops is up')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`up did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, output: () => output };
}

async function completedHealthChecks(address: string): Promise<number> {
  const { stdout } = await execa(findTemporalCli(), ['workflow', 'list', '--address', address, '--output', 'json']);
  const runs = JSON.parse(stdout) as Array<{ type: { name: string }; status: string }>;
  return runs.filter((r) => r.type.name === 'healthCheck' && r.status === 'WORKFLOW_EXECUTION_STATUS_COMPLETED').length;
}

describe('pggit-ops up', () => {
  it('brings the stack up, runs the health check, stops on Ctrl-C and reuses its data next time', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-up-'));
    chmodSync(dir, 0o755); // the postgres OS user (when we are root) must reach the cluster folder
    const [temporalPort, uiPort, pgPort, dashboardPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const address = `127.0.0.1:${temporalPort}`;
    const configFile = path.join(dir, 'pggit-ops.config.yaml');
    writeFileSync(configFile, stringify({ temporal: { address }, local_stack: { data_dir: 'data', temporal_ui_port: uiPort, postgres_port: pgPort }, dashboard: { port: dashboardPort } }));

    const first = await startUp(configFile);
    try {
      expect(first.output()).toContain(`Postgres     postgresql://postgres@127.0.0.1:${pgPort}/local (started`);
      expect(first.output()).toContain(`Temporal     ${address} (started; SQLite ${path.join(dir, 'data', 'temporal.sqlite')})`);
      expect(first.output()).toMatch(/server version\s+1\d\.\d+/);
      expect(first.output()).toMatch(/Health check health-check\/local\/\S+ completed/);
      const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
      expect(ui.status).toBe(200);
      expect(first.output()).toContain(`Dashboard    http://127.0.0.1:${dashboardPort} (metrics http://127.0.0.1:${dashboardPort}/metrics)`);
      expect((await fetch(`http://127.0.0.1:${dashboardPort}/login`)).status).toBe(200);
      expect(await completedHealthChecks(address)).toBe(1);
    } finally {
      first.child.kill('SIGINT');
    }
    const firstExit = await first.child;
    expect(firstExit.exitCode, first.output()).toBe(0);
    expect(first.output()).toContain('Stopped.');
    expect(await portOpen(temporalPort)).toBe(false);
    expect(await portOpen(pgPort)).toBe(false);
    expect(await portOpen(dashboardPort)).toBe(false);

    // Second run: same cluster and same Temporal SQLite file, so the first run's history is still there.
    const second = await startUp(configFile);
    try {
      expect(await completedHealthChecks(address)).toBe(2);
    } finally {
      second.child.kill('SIGINT');
    }
    expect((await second.child).exitCode).toBe(0);
    expect(second.output()).toContain(`Postgres     postgresql://postgres@127.0.0.1:${pgPort}/local (started`);
    rmSync(dir, { recursive: true, force: true });
  });
});
