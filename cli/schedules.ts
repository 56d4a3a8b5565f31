// `pggit-ops schedules sync | list | pause | unpause | trigger`: the four checklists as Temporal
// Schedules, one per checklist per scheduled target, id `<checklist>/<target>`. The runbook is
// loaded and resolved at sync time and stored in the schedule's action: after editing a runbook
// or the config, run `schedules sync` again.
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { allChecks } from '../activities/checks/index.ts';
import { loadRunbook } from '../runbooks/loader.ts';
import type { LoadedConfig } from '../worker/config.ts';
import { runbookRun } from '../workflows/runbook.ts';
import { CliError, ExitCode } from './exit-codes.ts';
import { runbookFile } from './runs.ts';

/** Scheduled targets: those the config file names, or `local` when it names none. */
export function scheduledTargets(loaded: LoadedConfig): string[] {
  const named = Object.keys(loaded.config.targets);
  return named.length ? named : ['local'];
}

function scheduleOptions(loaded: LoadedConfig, checklist: string, cron: string, target: string): ScheduleOptions {
  const { schedules, temporal } = loaded.config;
  const runbook = loadRunbook(runbookFile(checklist), { checks: allChecks, people: loaded.config.people });
  const scheduleId = `${checklist}/${target}`;
  return {
    scheduleId,
    spec: { cronExpressions: [cron], timezone: schedules.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: runbookRun,
      // Temporal appends the scheduled time: daily/prod/scheduled-2026-11-24T06:00:00Z.
      workflowId: `${checklist}/${target}/scheduled`,
      taskQueue: temporal.task_queues.checks,
      args: [{ runbook, target, initiator: `schedule:${scheduleId}`, queues: temporal.task_queues }],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: schedules.catchup_window },
    // The server stores cron expressions as calendars; keep the expression as written for `list`.
    memo: { cron, timezone: schedules.timezone },
  };
}

export async function syncSchedules(client: Client, loaded: LoadedConfig, print: (line: string) => void): Promise<Array<{ scheduleId: string; action: 'created' | 'updated' }>> {
  // Every runbook is loaded before anything changes: one broken runbook leaves all schedules as they were.
  const all = scheduledTargets(loaded).flatMap((target) =>
    Object.entries(loaded.config.schedules.checklists).map(([checklist, cron]) => ({ cron: cron!, options: scheduleOptions(loaded, checklist, cron!, target) })),
  );
  const done: Array<{ scheduleId: string; action: 'created' | 'updated' }> = [];
  for (const { cron, options } of all) {
    const handle = client.schedule.getHandle(options.scheduleId);
    try {
      await handle.update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: options.policies, memo: options.memo }));
      done.push({ scheduleId: options.scheduleId, action: 'updated' });
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      await client.schedule.create(options);
      done.push({ scheduleId: options.scheduleId, action: 'created' });
    }
    print(`${done.at(-1)!.action} ${options.scheduleId}: ${cron} (${loaded.config.schedules.timezone})`);
  }
  return done;
}

export async function listSchedules(client: Client) {
  const schedules = [];
  for await (const s of client.schedule.list()) {
    const description = await client.schedule.getHandle(s.scheduleId).describe();
    schedules.push({
      scheduleId: s.scheduleId,
      paused: description.state.paused,
      note: description.state.note ?? null,
      cron: (description.memo?.cron as string | undefined) ?? null,
      timezone: (description.memo?.timezone as string | undefined) ?? null,
      nextRun: description.info.nextActionTimes[0]?.toISOString() ?? null,
      lastRun: description.info.recentActions.at(-1)?.takenAt.toISOString() ?? null,
    });
  }
  return schedules.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

export async function scheduleAction(client: Client, scheduleId: string, action: 'pause' | 'unpause' | 'trigger', note?: string): Promise<void> {
  const handle = client.schedule.getHandle(scheduleId);
  try {
    if (action === 'trigger') await handle.trigger();
    else await handle[action](note);
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new CliError(ExitCode.BadInput, `no schedule '${scheduleId}' (see pggit-ops schedules list)`);
    throw err;
  }
}

/** Triggers a schedule and returns the id of the run it started (the schedule records it in its recent actions). */
export async function triggerAndFind(client: Client, scheduleId: string): Promise<string> {
  const handle = client.schedule.getHandle(scheduleId);
  const before = new Set((await describeOrFail(client, scheduleId)).info.recentActions.map((a) => a.action.workflow.workflowId));
  await scheduleAction(client, scheduleId, 'trigger');
  for (let i = 0; i < 300; i++) {
    const started = (await handle.describe()).info.recentActions.map((a) => a.action.workflow.workflowId).find((id) => !before.has(id));
    if (started) return started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CliError(ExitCode.Unavailable, `schedule ${scheduleId} was triggered but started no run within 30 s (overlap SKIP: is a run still going?)`);
}

async function describeOrFail(client: Client, scheduleId: string) {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new CliError(ExitCode.BadInput, `no schedule '${scheduleId}' (see pggit-ops schedules list)`);
    throw err;
  }
}
