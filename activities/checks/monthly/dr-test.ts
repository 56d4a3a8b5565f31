// Monthly "test disaster recovery procedures". The restore drill is a child workflow that arrives
// with the disaster-recovery issue; until then this step says plainly that no drill ran, so a
// monthly report can never read as a passed DR test.
import { z } from 'zod';
import { defineCheck } from '../define.ts';

export const drTest = defineCheck({
  name: 'drTest',
  description: 'disaster-recovery drill (not available yet: reports that no drill was performed)',
  kind: 'check',
  args: z.object({}).strict(),
  async run() {
    return {
      summary: 'DR test NOT performed: no restore drill is available yet',
      findings: [
        {
          code: 'dr_drill_unavailable',
          severity: 'warning',
          message: 'no DR drill available yet: restore drills arrive with the disaster-recovery workflow',
        },
      ],
      data: { performed: false },
    };
  },
});
