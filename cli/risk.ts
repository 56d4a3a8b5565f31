// `pggit-ops risk FILE...`: the migration risk report (risk/README.md), for people and for CI.
import { writeFileSync } from 'node:fs';
import { assessFiles, isFileError, type FileError, type FileReport } from '../risk/assess.ts';
import { CliError, ExitCode } from './exit-codes.ts';

export interface RiskOptions {
  maxRisk: string;
  databaseUrl?: string;
  lockWait: string;
  json?: boolean;
  report?: string;
}

function threshold(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 100) throw new CliError(ExitCode.BadInput, `--max-risk must be an integer from 0 to 100, got ${JSON.stringify(value)}`);
  return n;
}

const where = (e: FileError) => (e.error.line === null ? e.file : `${e.file}:${e.error.line}:${e.error.column}`);

function formatReport(r: FileReport, maxRisk: number): string {
  const verdict = r.score > maxRisk ? `OVER the limit of ${maxRisk}` : `within the limit of ${maxRisk}`;
  const lines = [`${r.file}: risk ${r.score}/100, ${verdict} (${r.statements} statements, ${r.findings.length} findings${r.measured ? ', measured on the database' : ''})`];
  if (r.findings.length > 0) {
    const rows = r.findings.map((f) => [`${f.line}:${f.column}`, f.severity, f.rule, f.lock ?? '-']);
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((row) => row[c]!.length), ['at', 'severity', 'rule'][c]!.length));
    const row = (cells: string[]) => `  ${cells.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]!) : cell)).join('  ')}`;
    lines.push(row(['at', 'severity', 'rule', 'lock']));
    r.findings.forEach((f, i) => lines.push(row(rows[i]!), `      ${f.message}`, `      safer: ${f.alternative}`));
  }
  for (const m of r.measured ?? []) {
    if (m.locks.length === 0 && m.rewrites.length === 0) continue;
    const locks = m.locks.map((l) => `${l.mode} on ${l.table}`).join(', ');
    const rewrites = m.rewrites.map((w) => `rewrote ${w.table} (${w.rows} rows)`).join(', ');
    lines.push(`  measured ${m.line}:${m.column}: ${[locks, rewrites].filter(Boolean).join('; ')}`);
  }
  return lines.join('\n');
}

export async function riskCommand(files: string[], opts: RiskOptions): Promise<ExitCode> {
  const maxRisk = threshold(opts.maxRisk);
  const reports = await assessFiles(files, { databaseUrl: opts.databaseUrl, lockWait: opts.lockWait });
  const json = JSON.stringify(reports.map((r) => (isFileError(r) ? r : { ...r, maxRisk, over: r.score > maxRisk })), null, 2);
  if (opts.report) writeFileSync(opts.report, `${json}\n`);
  if (opts.json) console.log(json);
  for (const r of reports) {
    if (isFileError(r)) console.error(`${where(r)}: ${r.error.message}`);
    else if (!opts.json) console.log(formatReport(r, maxRisk));
  }
  if (reports.some(isFileError)) return ExitCode.BadInput;
  return reports.some((r) => !isFileError(r) && r.score > maxRisk) ? ExitCode.Failed : ExitCode.Ok;
}
