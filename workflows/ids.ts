// Workflow ids say what and where: `<kind>/<target>/<time or id>`.
export type WorkflowKind = 'health-check';

export function workflowId(kind: WorkflowKind, target: string, suffix: string): string {
  return `${kind}/${target}/${suffix}`;
}

/** A sortable UTC timestamp for ids, e.g. 20261124T132005Z-4f2a (random tail keeps ids unique). */
export function timeSuffix(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}
