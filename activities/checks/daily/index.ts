// The guide's daily checklist: "Check pggit performance alerts", "Review recent migration
// activity", "Monitor storage growth", "Verify backup completion".
import { backupStatus } from './backup-status.ts';
import { performanceAlerts } from './performance-alerts.ts';
import { recentMigrations } from './recent-migrations.ts';
import { storageGrowth } from './storage-growth.ts';

export const dailyChecks = [performanceAlerts, recentMigrations, storageGrowth, backupStatus] as const;
