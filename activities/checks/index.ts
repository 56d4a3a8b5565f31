// Every check a runbook step can name, in one registry: the worker registers each as an activity,
// the runbook loader validates steps against it.
import { dailyChecks } from './daily/index.ts';
import type { CheckDefinition } from './define.ts';
import { drChecks } from './dr/index.ts';
import { monthlyChecks } from './monthly/index.ts';
import { quarterlyChecks } from './quarterly/index.ts';
import { rollbackChecks } from './rollback/index.ts';
import { noop } from './utility/noop.ts';
import { wait } from './utility/wait.ts';
import { weeklyChecks } from './weekly/index.ts';

export const allChecks: readonly CheckDefinition[] = [...dailyChecks, ...weeklyChecks, ...monthlyChecks, ...quarterlyChecks, ...drChecks, ...rollbackChecks, noop, wait];
