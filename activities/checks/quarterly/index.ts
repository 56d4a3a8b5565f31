// The guide's quarterly checklist, item by item.
import { complianceAudit } from './compliance-audit.ts';
import { securityAssessment } from './security-assessment.ts';
import { techStack } from './tech-stack.ts';
import { tuningReview } from './tuning-review.ts';

export const quarterlyChecks = [tuningReview, securityAssessment, complianceAudit, techStack] as const;
