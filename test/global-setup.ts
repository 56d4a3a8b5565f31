// Starts one real Temporal dev server (the pinned official CLI, never a download) for all test files;
// after the last test, searches every workflow history on it for the passwords and tokens the tests
// used, and fails the run if one is found.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { findTemporalCli } from '../worker/tools.ts';
import { SECRETS_FILE_ENV, rememberedSecrets, scanHistories } from './support/secrets.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: findTemporalCli() }, ip: '127.0.0.1' },
  });
  project.provide('temporalAddress', env.address);
  project.provide('temporalNamespace', env.namespace ?? 'default');
  // The test processes are forked after this, with this environment.
  const secretsFile = path.join(mkdtempSync(path.join(tmpdir(), 'pggit-ops-secrets-')), 'secrets.jsonl');
  writeFileSync(secretsFile, '');
  process.env[SECRETS_FILE_ENV] = secretsFile;
  return async () => {
    try {
      const secrets = rememberedSecrets(secretsFile);
      const { histories, hits } = await scanHistories(env.client, secrets);
      console.log(`secrets: searched ${histories} workflow histories for ${secrets.length} passwords and tokens: ${hits.length} found`);
      if (hits.length > 0) {
        // vitest reports an error thrown here but still exits 0: fail the process explicitly.
        process.exitCode = 1;
        throw new Error(`secrets found in workflow histories:\n${hits.map((h) => `  ${h.workflowId} (${h.runId}): ${h.secret}`).join('\n')}`);
      }
    } finally {
      await env.teardown();
    }
  };
}
