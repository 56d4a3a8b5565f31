// The first vertical slice: the healthCheck workflow on the real Temporal server, run by a real
// worker, against a real throwaway cluster; every value is checked against the cluster directly.
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthCheck } from '../workflows/index.ts';
import { timeSuffix, workflowId } from '../workflows/ids.ts';
import { startPostgres, withPgClient, type TestPostgres } from './support/postgres.ts';
import { historyText, testConfig, withWorkers } from './support/temporal.ts';
import type { LoadedConfig } from '../worker/config.ts';

let pgs: TestPostgres;
let loaded: LoadedConfig;

beforeAll(async () => {
  pgs = await startPostgres();
  loaded = testConfig({ app: pgs.connection });
});
afterAll(() => pgs?.stop());

function run(target: string) {
  return withWorkers(loaded, (client) =>
    client.workflow.execute(healthCheck, {
      taskQueue: loaded.config.temporal.task_queues.checks,
      workflowId: workflowId('health-check', target, timeSuffix()),
      args: [{ target }],
    }),
  );
}

describe('healthCheck workflow', () => {
  it('returns the facts the cluster reports about itself', async () => {
    // Make the non-default visible: the report must read the setting, not assume it.
    await withPgClient(pgs.connection, (c) => c.query(`ALTER DATABASE ${pgs.connection.database} SET track_functions = 'pl'`));

    const facts = await run('app');

    const expected = await withPgClient(pgs.connection, async (c) => {
      const { rows } = await c.query(`SELECT current_setting('server_version') AS v, current_setting('server_version_num')::int AS n,
                                             pg_database_size(current_database())::text AS size, current_setting('track_functions') AS tf`);
      return rows[0];
    });
    expect(facts).toEqual({
      target: 'app',
      database: pgs.connection.database,
      serverVersion: expected.v,
      serverVersionNum: expected.n,
      databaseSizeBytes: Number(expected.size),
      pggitInstalled: false,
      pggitEventTriggers: [],
      trackFunctions: 'pl',
    });
    expect(facts.serverVersionNum).toBeGreaterThanOrEqual(150000);
  });

  it('sees pggit once its schema and event triggers exist', async () => {
    await withPgClient(pgs.connection, async (c) => {
      await c.query(`CREATE SCHEMA pggit`);
      await c.query(`CREATE FUNCTION pggit.noop() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$`);
      await c.query(`CREATE EVENT TRIGGER pggit_ddl_end ON ddl_command_end EXECUTE FUNCTION pggit.noop()`);
      await c.query(`ALTER EVENT TRIGGER pggit_ddl_end DISABLE`);
    });
    try {
      const facts = await run('app');
      expect(facts.pggitInstalled).toBe(true);
      expect(facts.pggitEventTriggers).toEqual([{ name: 'pggit_ddl_end', event: 'ddl_command_end', enabled: false }]);
    } finally {
      await withPgClient(pgs.connection, (c) => c.query(`DROP EVENT TRIGGER pggit_ddl_end; DROP SCHEMA pggit CASCADE`));
    }
  });

  it('fails at once, without retrying, for a target that is not configured', async () => {
    const error = await run('nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const activityFailure = (error as WorkflowFailedError).cause as ActivityFailure;
    expect(activityFailure).toBeInstanceOf(ActivityFailure);
    expect(activityFailure.retryState).toBe('NON_RETRYABLE_FAILURE');
    const cause = activityFailure.cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('ConfigError');
    expect(cause.message).toContain("unknown target 'nope'");
  });

  it('keeps the password out of the workflow history', async () => {
    await withWorkers(loaded, async (client) => {
      const id = workflowId('health-check', 'app', timeSuffix());
      await client.workflow.execute(healthCheck, { taskQueue: loaded.config.temporal.task_queues.checks, workflowId: id, args: [{ target: 'app' }] });
      const text = await historyText(client, id);
      expect(text).toContain('{"target":"app"}'); // payloads were decoded: the input is readable
      expect(text).not.toContain(pgs.connection.password);
    });
  });
});
