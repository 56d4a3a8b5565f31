// The guide's weekly checklist: "Analyze performance trends", "Review security audit logs",
// "Check for schema drift", "Update capacity projections".
import { capacityProjection } from './capacity-projection.ts';
import { performanceTrends } from './performance-trends.ts';
import { schemaDrift } from './schema-drift.ts';
import { securityAudit } from './security-audit.ts';

export const weeklyChecks = [performanceTrends, securityAudit, schemaDrift, capacityProjection] as const;
