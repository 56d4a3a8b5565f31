// The end-of-run search for secrets in workflow histories (global-setup) finds what it looks for:
// a marker put into a real workflow's input is found in that workflow's history, byte for byte.
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { connectClient } from '../worker/temporal-connection.ts';
import { scanHistories } from './support/secrets.ts';
import { testConfig } from './support/temporal.ts';

it('finds a marker in the input of a workflow on the server, and nothing that is not there', async () => {
  const loaded = testConfig({});
  const client = await connectClient(loaded);
  try {
    const marker = `not-a-secret-${randomBytes(8).toString('hex')}`;
    const absent = `absent-${randomBytes(8).toString('hex')}`;
    // No worker polls this queue: the input is in the history's first event all the same.
    const handle = await client.workflow.start('healthCheck', {
      taskQueue: `secrets-scan-${randomBytes(4).toString('hex')}`,
      workflowId: `secrets-scan/${randomBytes(4).toString('hex')}`,
      args: [{ target: marker }],
    });
    await handle.terminate('scanned');
    const { histories, hits } = await scanHistories(client, [marker, absent]);
    expect(histories).toBeGreaterThan(0);
    expect(hits).toEqual([{ workflowId: handle.workflowId, runId: handle.firstExecutionRunId, secret: `no... (${marker.length} chars)` }]);
  } finally {
    await client.connection.close();
  }
});
