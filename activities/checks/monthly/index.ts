// The guide's monthly checklist, item by item.
import { cleanHistory } from './clean-history.ts';
import { permissionsReview } from './permissions-review.ts';
import { rebuildIndexes } from './rebuild-indexes.ts';

export const monthlyChecks = [cleanHistory, rebuildIndexes, permissionsReview] as const;
