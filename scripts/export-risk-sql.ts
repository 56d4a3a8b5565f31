// Rewrites the generated blocks of sql/009_pggit_risk.sql from the TypeScript sources (risk/sql-blocks.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { sqlFile, withGeneratedBlocks } from '../risk/sql-blocks.ts';

const before = readFileSync(sqlFile, 'utf8');
const after = withGeneratedBlocks(before);
writeFileSync(sqlFile, after);
console.log(after === before ? `${sqlFile.pathname}: up to date` : `${sqlFile.pathname}: rewritten`);
