// The real `pggit-ops` command as an operator runs it, on a test's config file.
import path from 'node:path';
import { execa, type Result } from 'execa';
import { expect } from 'vitest';
import type { LoadedConfig } from '../../worker/config.ts';
import { projectRoot } from '../../worker/tools.ts';

/** Runs `pggit-ops --config <loaded's file> ...args` with `env` (secrets by name, an operator token) added to the environment; never throws on exit codes. */
export function runCli(loaded: LoadedConfig, args: string[], env: Record<string, string> = {}) {
  return execa('node', [path.join(projectRoot, 'cli/bin.mjs'), '--config', loaded.file!, ...args], { reject: false, env });
}

/** Every configured target's password variable set to `password`: what a CLI on one test server needs. */
export function targetSecrets(loaded: LoadedConfig, password: string): Record<string, string> {
  return Object.fromEntries(Object.values(loaded.config.targets).map((t) => [t.password_env!, password]));
}

/** `pggit-ops report RUN --json` through `cli`, parsed; the test fails unless it exits 0. */
export async function cliReport<T>(cli: (args: string[]) => Promise<Result>, runId: string): Promise<T> {
  const run = await cli(['report', runId, '--json']);
  expect(run.exitCode, String(run.stderr)).toBe(0);
  return JSON.parse(String(run.stdout)) as T;
}
