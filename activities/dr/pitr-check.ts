// Point-in-time recovery readiness as a runbook step (activities/dr/pitr.ts does the judging).
import { z } from 'zod';
import { defineCheck } from '../checks/define.ts';
import { problemCount } from '../checks/shared.ts';
import { assessPitr } from './pitr.ts';

export const pitrReadiness = defineCheck({
  name: 'pitrReadiness',
  description: 'Point-in-time recovery readiness: wal_level, archive_mode, whether archive_command can overwrite an archived file, WAL archiver failures and the age of the newest archived WAL (the RPO)',
  kind: 'check',
  args: z
    .object({
      /** The newest archived WAL segment may be at most this old. */
      max_archive_age_minutes: z.number().positive().default(60),
    })
    .strict(),
  async run(ctx, { max_archive_age_minutes }) {
    const { findings, measurements } = await assessPitr(ctx.db, { maxArchiveAgeSeconds: max_archive_age_minutes * 60 });
    const state =
      measurements.archiveMode === 'off'
        ? 'WAL not archived (archive_mode off)'
        : measurements.rpoSeconds === null
          ? 'no WAL archived yet'
          : `newest archived WAL ${Math.round(measurements.rpoSeconds / 60)} min old`;
    return { summary: `${state}: ${problemCount(findings)}`, findings, data: { ...measurements } };
  },
});
