// Tests run real workers against the shared dev server from global-setup, on task queues of their own.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { loadConfig, type LoadedConfig } from '../../worker/config.ts';
import { connectClient, connectWorker } from '../../worker/temporal-connection.ts';
import { createWorkers } from '../../worker/worker.ts';
import { projectRoot } from '../../worker/tools.ts';
import type { CheckDefinition } from '../../activities/checks/define.ts';
import { allChecks } from '../../activities/checks/index.ts';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { PgConnection } from './postgres.ts';

Runtime.install({ logger: new DefaultLogger('WARN') });

/**
 * Writes a real config file naming the test server's databases as targets (passwords in env vars
 * the file names, as in production) and loads it through the product's own loader. `extra` adds
 * top-level keys; its `temporal` keys are added to the test server's.
 */
export function testConfig(targets: Record<string, PgConnection>, extra: Record<string, unknown> = {}): LoadedConfig {
  const tag = randomBytes(4).toString('hex');
  const fileTargets: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(targets)) {
    const passwordEnv = `PGGIT_OPS_TEST_PW_${tag}_${name.replace(/\W/g, '_')}`;
    process.env[passwordEnv] = c.password;
    fileTargets[name] = { host: c.host, port: c.port, database: c.database, user: c.user, password_env: passwordEnv };
  }
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pggit-ops-config-')), 'pggit-ops.config.yaml');
  writeFileSync(
    file,
    stringify({
      targets: fileTargets,
      ...extra,
      temporal: {
        address: inject('temporalAddress'),
        namespace: inject('temporalNamespace'),
        task_queues: { checks: `checks-${tag}`, jobs: `jobs-${tag}` },
        ...(extra.temporal as Record<string, unknown> | undefined),
      },
    }),
  );
  return loadConfig({ file, env: {} });
}

/** Starts the product's workers (plus any test-only checks) and a client; `stop` shuts both down. */
export async function startWorkers(loaded: LoadedConfig, extraChecks: readonly CheckDefinition[] = []): Promise<{ client: Client; stop(): Promise<void> }> {
  const connection = await connectWorker(loaded);
  const client = await connectClient(loaded);
  const workers = await createWorkers(loaded, connection, [...allChecks, ...extraChecks]);
  const abort = new AbortController();
  const running = workers.run(abort.signal);
  return {
    client,
    async stop() {
      abort.abort();
      await running;
      await client.connection.close();
      await connection.close();
    },
  };
}

/** Runs the product's workers (plus any test-only checks) while `fn` runs, then shuts them down. */
export async function withWorkers<T>(loaded: LoadedConfig, fn: (client: Client) => Promise<T>, extraChecks: readonly CheckDefinition[] = []): Promise<T> {
  const workers = await startWorkers(loaded, extraChecks);
  try {
    return await fn(workers.client);
  } finally {
    await workers.stop();
  }
}

/** A workflow's whole history as text, followed by every payload decoded, for searching it. */
export async function historyText(client: Client, workflowId: string): Promise<string> {
  const json = JSON.stringify(await client.workflow.getHandle(workflowId).fetchHistory());
  const payloads = [...json.matchAll(/"data":"([A-Za-z0-9+/=]*)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
  return [json, ...payloads].join('\n');
}

/**
 * `pggit-ops worker` as a child process on `loaded`'s config file, with its targets' secrets in
 * its environment (testConfig put them in this process's): a worker the tests can kill -9.
 */
export function startWorkerProcess(loaded: LoadedConfig, logLevel = 'warn'): ResultPromise {
  const secrets = Object.values(loaded.config.targets).flatMap((t) => (t.password_env ? [[t.password_env, process.env[t.password_env] ?? '']] : []));
  return execa('node', [path.join(projectRoot, 'cli/bin.mjs'), 'worker', '--config', loaded.file!], {
    env: { ...Object.fromEntries(secrets), PGGIT_OPS_LOG_LEVEL: logLevel },
    reject: false,
  });
}
