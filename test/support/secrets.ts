// Every password and token the tests create is remembered for the whole run; after the last test,
// global-setup reads every workflow history on the Temporal server and searches them for these
// (issue: secrets must never reach workflow input or history).
import { appendFileSync, readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
// The default import: @temporalio/proto is CommonJS, whose named exports Node's ESM loader (tsx, scripts) cannot see.
import proto from '@temporalio/proto';

/** Set by global-setup for the test processes; unset outside vitest (scripts), where this is a no-op. */
export const SECRETS_FILE_ENV = 'PGGIT_OPS_TEST_SECRETS_FILE';

export function rememberSecret(secret: string): void {
  const file = process.env[SECRETS_FILE_ENV];
  if (file && secret) appendFileSync(file, `${JSON.stringify(secret)}\n`);
}

export function rememberedSecrets(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return [...new Set(lines.map((l) => JSON.parse(l) as string))];
}

export interface SecretHit {
  workflowId: string;
  runId: string;
  /** The secret's first two characters and its length: enough to find it, not to use it. */
  secret: string;
}

/** Searches the raw bytes of every history on the server (payloads, failures, search attributes) for each secret. */
export async function scanHistories(client: Client, secrets: readonly string[]): Promise<{ histories: number; hits: SecretHit[] }> {
  const needles = secrets.map((s) => ({ secret: s, bytes: Buffer.from(s, 'utf8') }));
  const hits: SecretHit[] = [];
  let histories = 0;
  for await (const execution of client.workflow.list()) {
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish());
    histories++;
    for (const { secret, bytes: needle } of needles) {
      if (bytes.includes(needle)) hits.push({ workflowId: execution.workflowId, runId: execution.runId, secret: `${secret.slice(0, 2)}... (${secret.length} chars)` });
    }
  }
  return { histories, hits };
}
