// The `pggit-ops` command line.
import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from '../worker/config.ts';
import { payloadCodecs } from '../worker/payload-codec.ts';
import { startCodecServer } from './codec-server.ts';
import { createLogger, installRuntimeLogger } from '../worker/logging.ts';
import { connectClient, connectWorker } from '../worker/temporal-connection.ts';
import { createWorkers } from '../worker/worker.ts';
import { formatFacts, runHealthCheck } from './health.ts';
import { ExitCode } from './exit-codes.ts';
import { install, type InstallOptions } from './install.ts';
import {
  awaitRun, cancelCommand, decisionCommand, exitCodeForError, listCommand, reportCommand, runCommand, statusCommand,
  type DecisionOptions, type RunOptions,
} from './runs.ts';
import { listSchedules, scheduleAction, syncSchedules, triggerAndFind } from './schedules.ts';
import { checkChosenBackup, listBackups } from './backups.ts';
import { rollbackCommand, type RollbackOptions } from './rollback.ts';
import { runbookRun } from '../workflows/runbook.ts';
import { up } from './up.ts';
import { allChecks } from '../activities/checks/index.ts';
import { validateRunbookFiles } from '../runbooks/loader.ts';
import { riskCommand, type RiskOptions } from './risk.ts';
import { cicdGenerate, type CicdOptions } from './cicd.ts';
import { hashPasswordCommand, serveCommand } from './dashboard.ts';
import { statusPaint, table } from './terminal.ts';

const program = new Command('pggit-ops')
  .description('Runbook automation for PostgreSQL databases that carry pggit')
  .addOption(new Option('-c, --config <file>', 'config file').env('PGGIT_OPS_CONFIG'))
  .showHelpAfterError()
  // Usage errors (unknown option, missing argument) exit 2 like other bad input; help exits 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : ExitCode.BadInput));

const config = () => loadConfig({ file: program.opts<{ config?: string }>().config });

/** Runs a command that returns its exit code. */
const act =
  <A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>) =>
  async (...args: A) => {
    process.exitCode = await fn(...args);
  };

const collect = (value: string, previous: string[]) => [...previous, value];

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
  .command('codec-server')
  .description("serve the payload encryption codec (temporal.payload_encryption) over Temporal's remote codec protocol, so the Temporal UI and CLI can show encrypted payloads; until SIGINT/SIGTERM")
  .option('--host <host>', 'address to listen on (whoever reaches it can decrypt)', '127.0.0.1')
  .option('--port <port>', 'port to listen on', '8888')
  .option('--origin <url>', 'a browser origin allowed to call it, e.g. the Temporal UI (repeatable)', collect, [])
  .option('--token-env <name>', 'demand Authorization: Bearer <the value of this environment variable>')
  .action(act(async (opts: { host: string; port: string; origin: string[]; tokenEnv?: string }) => {
    const loaded = config();
    const [codec] = payloadCodecs(loaded.config);
    if (!codec) throw new ConfigError('temporal.payload_encryption is not configured: payloads are not encrypted, there is nothing to decode');
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`--port ${opts.port}: must be a whole number from 1 to 65535`);
    const token = opts.tokenEnv === undefined ? undefined : process.env[opts.tokenEnv];
    if (opts.tokenEnv !== undefined && !token) throw new ConfigError(`--token-env ${opts.tokenEnv}: that environment variable is not set`);
    const origins = opts.origin.length > 0 ? opts.origin : ['http://127.0.0.1:8233', 'http://localhost:8233'];
    const server = await startCodecServer({ codec, host: opts.host, port, origins, token });
    console.log(`codec server on ${server.url} (origins: ${origins.join(', ')}${token ? '; bearer token required' : ''})`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return ExitCode.Ok;
  }));

program
  .command('serve')
  .description('serve the web dashboard (runs, approvals, schedules, backups, capacity, alerts) and /metrics until Ctrl-C')
  .option('--port <n>', 'listen on this port instead of dashboard.port (0: any free port)')
  .action(act((opts: { port?: string }) => serveCommand(config(), opts)));

program
  .command('hash-password')
  .description('read a password on stdin and print its hash for people.users.<name>.password_scrypt (dashboard sign-in)')
  .action(act(() => hashPasswordCommand()));

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

program
  .command('run')
  .description('start a runbook (runbooks/NAME.yaml or a path) on a target; --wait follows it to the end and prints its report')
  .argument('<runbook>', 'runbook name or YAML file')
  .requiredOption('--db <name>', 'configured target name')
  .option('--param <name=value>', 'override a runbook param (repeatable)', collect, [])
  .option('--wait', 'follow the run to its end, showing progress')
  .option('--json', 'machine-readable output on stdout (progress goes to stderr)')
  .action(act((name: string, opts: RunOptions) => runCommand(config(), name, opts)));

program
  .command('backup')
  .description('back up a target (the backup runbook: whole database and pggit schema, verified, retention applied)')
  .requiredOption('--db <name>', 'configured target name')
  .option('--format <format>', 'custom (one file) or directory', 'custom')
  .option('--wait', 'follow the run to its end, showing progress')
  .option('--json', 'machine-readable output on stdout (progress goes to stderr)')
  .action(act((opts: { db: string; format: string; wait?: boolean; json?: boolean }) =>
    runCommand(config(), 'backup', { db: opts.db, param: [`format=${opts.format}`], wait: opts.wait, json: opts.json })));

program
  .command('drill')
  .description('restore drill (the drill runbook): restore the newest verified backup (or --backup) into a scratch database, prove it, report RTO and RPO')
  .requiredOption('--db <name>', 'configured target name')
  .option('--backup <id>', 'drill this full backup of the target (pggit-ops backups list) instead of the newest verified one')
  .option('--wait', 'follow the run to its end, showing progress')
  .option('--json', 'machine-readable output on stdout (progress goes to stderr)')
  .action(act(async (opts: { db: string; backup?: string; wait?: boolean; json?: boolean }) => {
    const loaded = config();
    if (opts.backup !== undefined) await checkChosenBackup(loaded, opts.backup, { target: opts.db, verifiedOnly: false });
    return runCommand(loaded, 'drill', { db: opts.db, param: opts.backup === undefined ? [] : [`backup_id=${opts.backup}`], wait: opts.wait, json: opts.json });
  }));

program
  .command('recover')
  .description('recover a target from a backup (the recover runbook): two DBAs approve, a safety backup is taken, the database is dropped and restored from the backup and verified; on failure it is put back from the safety backup. One destructive run (recovery or rollback) per target at a time')
  .requiredOption('--db <name>', 'configured target name')
  .requiredOption('--backup <id>', 'the verified full backup to restore (pggit-ops backups list)')
  .option('--allow-other-target', 'restore a backup taken of another target (its database must have the same name)')
  .option('--jobs <n>', 'parallel pg_restore jobs', '1')
  .option('--wait', 'follow the run to its end, showing progress')
  .option('--json', 'machine-readable output on stdout (progress goes to stderr)')
  .action(act(async (opts: { db: string; backup: string; allowOtherTarget?: boolean; jobs: string; wait?: boolean; json?: boolean }) => {
    const loaded = config();
    const allowOtherTarget = opts.allowOtherTarget ?? false;
    await checkChosenBackup(loaded, opts.backup, { target: opts.db, verifiedOnly: true, allowOtherTarget });
    const param = [`backup_id=${opts.backup}`, `allow_other_target=${allowOtherTarget}`, `jobs=${opts.jobs}`];
    return runCommand(loaded, 'recover', { db: opts.db, param, wait: opts.wait, json: opts.json, exclusive: 'a recovery' });
  }));

program
  .command('rollback')
  .description('roll a target\'s schema back to a point in time, or one object to a version (the rollback runbook): previewed, approved by one DBA (two when data is lost), safety backup, staged apply undone on failure, dropped tables refilled from a backup, verified. One destructive run per target at a time')
  .requiredOption('--db <name>', 'configured target name')
  .option('--to <timestamp>', 'roll back every tracked object to its state at this time, e.g. "2026-06-15 10:00:00+00"')
  .option('--object <name>', 'roll back this object (as pggit.objects.full_name has it, e.g. public.customer) ...')
  .option('--version <version>', '... to this version of it')
  .option('--lock-timeout <duration>', 'how long a stage\'s statement may wait for a lock before the stage fails and is undone', '5s')
  .option('--preview', 'print the plan and its risks, change nothing')
  .option('--wait', 'follow the run to its end, showing progress')
  .option('--json', 'machine-readable output on stdout (progress goes to stderr)')
  .action(act((opts: RollbackOptions) => rollbackCommand(config(), opts)));

program
  .command('backups')
  .description('the backup catalog')
  .command('list')
  .description('backups in the catalog, newest first')
  .option('--db <name>', 'only this target')
  .option('--json', 'machine-readable output')
  .action(act((opts: { db?: string; json?: boolean }) => listBackups(config(), opts)));

program
  .command('status')
  .description('live progress of a run (or its ledger record once finished)')
  .argument('<run>', 'run id (the workflow id, e.g. daily/local/20261124T060000Z-ab12)')
  .option('--json', 'machine-readable output')
  .action(act((run: string, opts: { json?: boolean }) => statusCommand(config(), run, opts)));

program
  .command('list')
  .description('recent runs from the ledger')
  .option('--db <name>', 'only this target')
  .option('--runbook <name>', 'only this runbook')
  .option('--limit <n>', 'how many', '20')
  .option('--json', 'machine-readable output')
  .action(act((opts: { db?: string; runbook?: string; limit: string; json?: boolean }) => listCommand(config(), opts)));

for (const decision of ['approve', 'reject'] as const) {
  const command = program
    .command(decision)
    .description(`${decision} a step waiting for approval, as the identity this CLI establishes (OS user, or PGGIT_OPS_OPERATOR_TOKEN)`)
    .argument('<run>', 'run id')
    .requiredOption('--step <id>', 'the step waiting for approval')
    .option('--request-id <id>', 'idempotency key: the same request sent twice is one decision (default: a new one)')
    .option('--json', 'machine-readable output');
  if (decision === 'approve') command.option('--comment <text>', 'comment recorded with the approval (required by sign-off steps)');
  else command.requiredOption('--reason <text>', 'why (recorded with the rejection)');
  command.action(act((run: string, opts: DecisionOptions) => decisionCommand(config(), run, decision, opts)));
}

program
  .command('cancel')
  .description('cancel a run (its compensations run)')
  .argument('<run>', 'run id')
  .option('--wait', 'wait until the run has stopped')
  .option('--json', 'machine-readable output')
  .action(act((run: string, opts: { wait?: boolean; json?: boolean }) => cancelCommand(config(), run, opts)));

program
  .command('report')
  .description('the report of a run from the ledger: Markdown, or JSON with --json')
  .argument('<run>', 'run id')
  .option('--json', 'JSON instead of Markdown')
  .action(act((run: string, opts: { json?: boolean }) => reportCommand(config(), run, opts)));

program
  .command('runbooks')
  .description('runbook files')
  .command('validate')
  .description('check runbook files against the schema, the checks and the config\'s people')
  .argument('<files...>', 'YAML files')
  .option('--json', 'machine-readable output')
  .action(act(async (files: string[], opts: { json?: boolean }) => {
    const results = validateRunbookFiles(files, { checks: allChecks, people: config().config.people });
    if (opts.json) console.log(JSON.stringify(results.map((r) => (r.ok ? { file: r.file, ok: true } : { file: r.file, ok: false, issues: r.issues }))));
    else for (const r of results) console.log(r.ok ? `ok ${r.file}` : r.message);
    return results.every((r) => r.ok) ? ExitCode.Ok : ExitCode.BadInput;
  }));

program
  .command('risk')
  .description('score migration files for locking, rewrite and compatibility risk (0-100); exit 1 when one is over --max-risk, 2 when one cannot be read or parsed')
  .argument('<files...>', 'SQL migration files')
  .option('--max-risk <score>', 'highest acceptable score, 0-100', '50')
  .option('--database-url <url>', 'also run the files on this CI or staging database, in a transaction that is always rolled back, and measure locks and rewrites')
  .option('--lock-wait <duration>', 'with --database-url: how long a statement may wait for a lock before it is reported as not measured', '5s')
  .option('--json', 'the reports as JSON on stdout')
  .option('--report <file>', 'also write the JSON reports to this file (the CI artifact)')
  .action(act((files: string[], opts: RiskOptions) => riskCommand(files, opts)));

program
  .command('cicd')
  .description('CI/CD integration')
  .command('generate')
  .description('print a CI pipeline that assesses the migration files each push changes (the same text as SQL pggit.generate_cicd_config)')
  .argument('<platform>', 'github or jenkins')
  .option('--migrations-dir <dir>', 'folder of the migration files, relative to the repository root', 'migrations')
  .option('--max-risk <score>', 'a changed file scoring above this fails the pipeline', '50')
  .option('-o, --output <file>', 'write the pipeline to this file instead of stdout')
  .action(act(async (platform: string, opts: CicdOptions) => cicdGenerate(platform, opts)));

const schedules = program.command('schedules').description('Temporal Schedules of the four checklists, per scheduled target');

schedules
  .command('sync')
  .description('create or update the schedules from the config and the runbooks')
  .option('--json', 'machine-readable output')
  .action(act(async (opts: { json?: boolean }) => {
    const loaded = config();
    const client = await connectClient(loaded);
    try {
      const done = await syncSchedules(client, loaded, opts.json ? () => undefined : (line) => console.log(line));
      if (opts.json) console.log(JSON.stringify(done));
      return ExitCode.Ok;
    } finally {
      await client.connection.close();
    }
  }));

schedules
  .command('list')
  .description('schedules with their next and last run')
  .option('--json', 'machine-readable output')
  .action(act(async (opts: { json?: boolean }) => {
    const loaded = config();
    const client = await connectClient(loaded);
    try {
      const list = await listSchedules(client);
      if (opts.json) console.log(JSON.stringify(list));
      else console.log(table(['schedule', 'state', 'cron', 'next run', 'last run'], list.map((s) => [s.scheduleId, statusPaint(s.paused ? 'paused' : 'active'), String(s.cron), s.nextRun ?? '-', s.lastRun ?? '-'])));
      return ExitCode.Ok;
    } finally {
      await client.connection.close();
    }
  }));

for (const action of ['pause', 'unpause'] as const) {
  schedules
    .command(action)
    .description(`${action} a schedule`)
    .argument('<schedule>', 'schedule id, e.g. daily/local')
    .option('--note <text>', 'why (shown in the schedule)')
    .option('--json', 'machine-readable output')
    .action(act(async (scheduleId: string, opts: { note?: string; json?: boolean }) => {
      const loaded = config();
      const client = await connectClient(loaded);
      try {
        await scheduleAction(client, scheduleId, action, opts.note);
        console.log(opts.json ? JSON.stringify({ scheduleId, action }) : `${action}d ${scheduleId}`);
        return ExitCode.Ok;
      } finally {
        await client.connection.close();
      }
    }));
}

schedules
  .command('trigger')
  .description('start a run of the schedule now; --wait follows it to the end')
  .argument('<schedule>', 'schedule id, e.g. daily/local')
  .option('--wait', 'follow the run to its end, showing progress, and print its report')
  .option('--json', 'machine-readable output')
  .action(act(async (scheduleId: string, opts: { wait?: boolean; json?: boolean }) => {
    const loaded = config();
    const client = await connectClient(loaded);
    try {
      const runId = await triggerAndFind(client, scheduleId);
      if (!opts.wait) {
        console.log(opts.json ? JSON.stringify({ scheduleId, runId }) : `triggered ${scheduleId}: started ${runId}`);
        return ExitCode.Ok;
      }
      (opts.json ? console.error : console.log)(`triggered ${scheduleId}: started ${runId}`);
      return await awaitRun(loaded, client.workflow.getHandle<typeof runbookRun>(runId), opts);
    } finally {
      await client.connection.close();
    }
  }));

program.parseAsync().catch((err: unknown) => {
  console.error(`pggit-ops: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = exitCodeForError(err);
});
