// The 0-100 risk score of a file (README.md, "Score"): the findings' severity weights added up,
// capped at 100. A pure function of the findings, so the same migration always scores the same.
import type { Finding, Severity } from './rule.ts';

export const SEVERITY_WEIGHTS: Readonly<Record<Severity, number>> = { critical: 60, high: 20, medium: 8, low: 2, info: 0 };
export const MAX_SCORE = 100;

export function riskScore(findings: readonly Pick<Finding, 'severity'>[]): number {
  return Math.min(MAX_SCORE, findings.reduce((sum, f) => sum + SEVERITY_WEIGHTS[f.severity], 0));
}
