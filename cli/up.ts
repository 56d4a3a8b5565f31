// `pggit-ops up` (npm run up): the whole product on one machine, until Ctrl-C.
import { once } from 'node:events';
import pg from 'pg';
import { applyMigrations } from '../activities/migrations.ts';
import { connectionConfig } from '../activities/targets.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { startLocalStack } from '../worker/local-stack.ts';
import { connectClient, connectWorker } from '../worker/temporal-connection.ts';
import { createWorkers } from '../worker/worker.ts';
import { serveDashboard } from '../web/server.ts';
import { formatFacts, runHealthCheck } from './health.ts';

export async function up(loaded: LoadedConfig): Promise<void> {
  const stack = await startLocalStack(loaded);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await installPggit(loaded);
    const connection = await connectWorker(loaded);
    const client = await connectClient(loaded);
    const workers = await createWorkers(loaded, connection);
    const running = workers.run(stop.signal);
    const { task_queues } = loaded.config.temporal;
    console.log(`Postgres     ${stack.postgres.url} (${stack.postgres.state}; data ${stack.postgres.dataDir})`);
    console.log(`Temporal     ${stack.temporal.address} (${stack.temporal.state}${stack.temporal.dbFile ? `; SQLite ${stack.temporal.dbFile}` : ''})`);
    if (stack.temporal.uiUrl) console.log(`Temporal UI  ${stack.temporal.uiUrl}`);
    console.log(`Worker       task queues ${task_queues.checks}, ${task_queues.jobs}`);
    const dashboard = await serveDashboard(loaded, client);
    console.log(`Dashboard    ${dashboard.url} (metrics ${dashboard.url}/metrics)`);

    const { workflowId, facts } = await runHealthCheck(client, loaded, 'local');
    console.log(`Health check ${workflowId} completed:\n${formatFacts(facts)}`);
    console.log('pggit-ops is up. Press Ctrl-C to stop.');

    if (!stop.signal.aborted) await once(stop.signal, 'abort');
    console.log('Stopping...');
    await dashboard.close();
    await running;
    await client.connection.close();
    await connection.close();
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stack.stop();
  }
  console.log('Stopped.');
}

/** pggit and the run ledger in the local database (idempotent: the runner skips applied files). */
async function installPggit(loaded: LoadedConfig): Promise<void> {
  const client = new pg.Client(connectionConfig(loaded.config, 'local'));
  await client.connect();
  try {
    const { applied } = await applyMigrations(client);
    console.log(`pggit        ${applied.length ? `installed ${applied.length} migrations` : 'up to date'} in target local`);
  } finally {
    await client.end();
  }
}
