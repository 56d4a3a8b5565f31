// Writes runbooks/runbook.schema.json, the JSON Schema editors check runbooks against
// (`npm run runbooks:schema`). A test fails when the committed file differs from a fresh export.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runbookJsonSchemaText } from '../runbooks/schema.ts';

const file = fileURLToPath(new URL('../runbooks/runbook.schema.json', import.meta.url));
writeFileSync(file, runbookJsonSchemaText());
console.log(`wrote ${file}`);
