// Whether a step's `when` holds, from the progress of the steps before it. Pure.
import type { Severity, StepCondition, StepProgress } from './runbook-types.ts';

const rank: Record<Severity, number> = { info: 1, warning: 2, critical: 3 };

export function conditionHolds(when: StepCondition, earlier: readonly StepProgress[]): boolean {
  const ref = earlier.find((s) => s.id === when.step);
  if (!ref) return false;
  if (when.status !== undefined && ref.status !== when.status) return false;
  const total = ref.findings.info + ref.findings.warning + ref.findings.critical;
  if (when.hasFindings !== undefined && total > 0 !== when.hasFindings) return false;
  if (when.minSeverity !== undefined) {
    const worst = ref.findings.critical ? 3 : ref.findings.warning ? 2 : ref.findings.info ? 1 : 0;
    if (worst < rank[when.minSeverity]) return false;
  }
  return true;
}
