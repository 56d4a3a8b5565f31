// The `pggit-ops` command line.
import { Command, Option } from 'commander';
import { loadConfig } from '../worker/config.ts';
import { createLogger, installRuntimeLogger } from '../worker/logging.ts';
import { connectClient, connectWorker } from '../worker/temporal-connection.ts';
import { createWorkers } from '../worker/worker.ts';
import { formatFacts, runHealthCheck } from './health.ts';
import { install, type InstallOptions } from './install.ts';
import { up } from './up.ts';

const program = new Command('pggit-ops')
  .description('Runbook automation for PostgreSQL databases that carry pggit')
  .addOption(new Option('-c, --config <file>', 'config file').env('PGGIT_OPS_CONFIG'))
  .showHelpAfterError();

const config = () => loadConfig({ file: program.opts<{ config?: string }>().config });

program
  .command('up')
  .description('start the local stack (Temporal dev server, Postgres target "local", worker), run a health check, stay up until Ctrl-C')
  .action(async () => {
    const loaded = config();
    installRuntimeLogger(createLogger('warn'));
    await up(loaded);
  });

program
  .command('worker')
  .description('run the workers (checks and jobs task queues) against the configured Temporal until SIGINT/SIGTERM')
  .action(async () => {
    const loaded = config();
    const logger = createLogger();
    installRuntimeLogger(logger);
    const connection = await connectWorker(loaded);
    const workers = await createWorkers(loaded, connection);
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    logger.info({ taskQueues: loaded.config.temporal.task_queues }, 'workers running');
    await workers.run(stop.signal);
    await connection.close();
  });

program
  .command('health')
  .description('run the health-check workflow for a target (needs a running worker)')
  .requiredOption('--db <name>', 'configured target name')
  .option('--json', 'print the result as JSON on stdout')
  .action(async (opts: { db: string; json?: boolean }) => {
    const loaded = config();
    const client = await connectClient(loaded);
    try {
      const result = await runHealthCheck(client, loaded, opts.db);
      console.log(opts.json ? JSON.stringify(result) : `${result.workflowId}\n${formatFacts(result.facts)}`);
    } finally {
      await client.connection.close();
    }
  });

program
  .command('install')
  .description('install or upgrade pggit in a database: apply the sql/ migrations it does not have yet (needs a superuser)')
  .option('--db <name>', 'configured target name')
  .option('--database-url <url>', 'connect to this URL instead of a configured target')
  .option('--json', 'print the result as JSON on stdout')
  .action((opts: InstallOptions) => install(opts, config));

program.parseAsync().catch((err: unknown) => {
  console.error(`pggit-ops: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
