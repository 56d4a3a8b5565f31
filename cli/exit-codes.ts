// Exit codes a CI script can rely on (README, "Exit codes").
export enum ExitCode {
  /** The command did what was asked; a waited-for run succeeded. */
  Ok = 0,
  /** A waited-for run failed or was not approved; an approval was refused. */
  Failed = 1,
  /** Bad input: usage, config, runbook, unknown target or run. Nothing was started. */
  BadInput = 2,
  /** A waited-for run was cancelled. */
  Cancelled = 3,
  /** Temporal or a database could not be reached, or an unexpected error. */
  Unavailable = 4,
}

export class CliError extends Error {
  constructor(readonly code: ExitCode, message: string) {
    super(message);
    this.name = 'CliError';
  }
}
