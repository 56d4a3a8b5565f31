// Disaster-recovery steps: backups and their retention, restore drills, PITR readiness, recovery.
import { pitrReadiness } from '../../dr/pitr-check.ts';
import { applyBackupRetention, backupDatabase } from './backup-database.ts';
import { restoreDrill } from './restore-drill.ts';
import { planRecovery, putBackTarget, restoreTarget } from './restore-target.ts';

export const drChecks = [backupDatabase, applyBackupRetention, restoreDrill, pitrReadiness, planRecovery, restoreTarget, putBackTarget] as const;
