// Disaster-recovery steps: backups and their retention (and, with the drill, restores).
import { applyBackupRetention, backupDatabase } from './backup-database.ts';

export const drChecks = [backupDatabase, applyBackupRetention] as const;
