// A step that does nothing and finds nothing: for trying a runbook's flow (conditions, approvals)
// and for measuring the orchestration overhead per step (bench/).
import { z } from 'zod';
import { defineCheck } from '../define.ts';

export const noop = defineCheck({
  name: 'noop',
  description: 'does nothing and reports no finding',
  kind: 'check',
  args: z.object({}).strict(),
  async run() {
    return { summary: 'nothing to do', findings: [] };
  },
});
