// Determinism: every recorded history under test/histories/ (scripts/record-histories.ts) replays
// against the current workflow code. A change that would break runs already in flight fails here.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('./histories', import.meta.url));
const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('recorded workflow histories', () => {
  it('cover every workflow kind: the health check, the runbook interpreter, the destructive-run lock and a rollback run (quorum_from)', () => {
    expect(files.sort()).toEqual(['destructive.json', 'health-check.json', 'rollback.json', 'runbook.json']);
  });

  for (const file of files) {
    it(`replay ${file} without nondeterminism`, async () => {
      const history = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
      await expect(Worker.runReplayHistory({ workflowsPath }, history)).resolves.toBeUndefined();
    });
  }
});
