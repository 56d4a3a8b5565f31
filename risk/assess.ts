// Assesses migration files: reads and parses each, runs the static rules, and with a database
// measures them too (measure.ts); one report per file with its 0-100 score.
import { readFile } from 'node:fs/promises';
import { analyzeStatically, byPosition } from './analyze.ts';
import { MeasurementSession, type MeasuredStatement } from './measure.ts';
import { loadParser, parseMigration, SqlSyntaxError, type ParsedMigration } from './parse.ts';
import type { Finding } from './rule.ts';
import { riskScore } from './score.ts';

export interface FileReport {
  file: string;
  score: number;
  findings: Finding[];
  statements: number;
  /** Per statement, what running it measured; null without a database. */
  measured: MeasuredStatement[] | null;
}

/** A file that could not be read or parsed; line and column when the parser gave a position. */
export interface FileError {
  file: string;
  error: { message: string; line: number | null; column: number | null };
}

export const isFileError = (r: FileReport | FileError): r is FileError => 'error' in r;

export interface AssessOptions {
  /** A CI or staging database to measure on; the migration is always rolled back. */
  databaseUrl?: string;
  /** How long a measured statement may wait for a lock (a PostgreSQL duration, default 5s). */
  lockWait?: string;
}

async function readAndParse(file: string): Promise<ParsedMigration | FileError> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { file, error: { message: `cannot read: ${(err as Error).message}`, line: null, column: null } };
  }
  try {
    return parseMigration(text);
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    return { file, error: { message: err.reason, line: err.position.line, column: err.position.column } };
  }
}

/** Reports in the order of `files`. With a database, files are measured in that order in one rolled-back transaction. */
export async function assessFiles(files: string[], options: AssessOptions = {}): Promise<Array<FileReport | FileError>> {
  await loadParser();
  const parsed = await Promise.all(files.map(readAndParse));
  const session = options.databaseUrl ? await MeasurementSession.open(options.databaseUrl, options.lockWait ?? '5s') : null;
  try {
    const reports: Array<FileReport | FileError> = [];
    for (const [i, migration] of parsed.entries()) {
      if ('error' in migration) {
        reports.push(migration);
        continue;
      }
      const measurement = session ? await session.measure(migration) : null;
      const findings = [...analyzeStatically(migration), ...(measurement?.findings ?? [])].sort(byPosition);
      reports.push({ file: files[i]!, score: riskScore(findings), findings, statements: migration.statements.length, measured: measurement?.statements ?? null });
    }
    return reports;
  } finally {
    await session?.close();
  }
}
