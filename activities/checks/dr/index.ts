// Disaster-recovery steps: backups and their retention, restore drills, PITR readiness.
import { pitrReadiness } from '../../dr/pitr-check.ts';
import { applyBackupRetention, backupDatabase } from './backup-database.ts';
import { restoreDrill } from './restore-drill.ts';

export const drChecks = [backupDatabase, applyBackupRetention, restoreDrill, pitrReadiness] as const;
