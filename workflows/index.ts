// Every workflow the worker runs. Deterministic code only: all I/O happens in activities/.
export { healthCheck } from './health-check.ts';
export { runbookRun, approveUpdate, progressQuery } from './runbook.ts';
export { exclusiveRunbookRun } from './exclusive-run.ts';
