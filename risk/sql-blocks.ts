// The parts of sql/009_pggit_risk.sql that are generated from the TypeScript sources, so psql users
// and the CLI share one definition: the rule descriptions, the severity weights, and the pipeline
// templates. `npm run risk:sql` rewrites them (scripts/export-risk-sql.ts); a test fails when the
// file and the sources disagree.
import { templates } from '../cicd/pipelines.ts';
import { measuredKinds } from './measure.ts';
import { rules } from './rules/index.ts';
import { SEVERITY_WEIGHTS } from './score.ts';
import { severities, type RuleInfo } from './rule.ts';

export const sqlFile = new URL('../sql/009_pggit_risk.sql', import.meta.url);

const literal = (value: string | null) => (value === null ? 'NULL' : `'${value.replaceAll("'", "''")}'`);

const TEMPLATE_QUOTE = '$pggit_template$';

function dollarQuoted(text: string): string {
  if (text.includes(TEMPLATE_QUOTE)) throw new Error(`a pipeline template contains ${TEMPLATE_QUOTE}`);
  return `${TEMPLATE_QUOTE}${text}${TEMPLATE_QUOTE}`;
}

function rulesBlock(): string {
  const all: RuleInfo[] = [...rules, ...Object.values(measuredKinds)];
  const rows = all.map((r) => `    (${[r.id, r.severity, r.lock, r.message, r.alternative].map(literal).join(', ')})`);
  const weights = severities.map((s) => `    (${literal(s)}, ${SEVERITY_WEIGHTS[s]})`);
  return [
    'INSERT INTO pggit.risk_rules (id, severity, lock_mode, message, alternative) VALUES',
    `${rows.join(',\n')};`,
    'INSERT INTO pggit.risk_severity_weights (severity, weight) VALUES',
    `${weights.join(',\n')};`,
  ].join('\n');
}

function templatesBlock(): string {
  const cases = Object.entries(templates).map(([platform, text]) => `        WHEN ${literal(platform)} THEN ${dollarQuoted(text)}`);
  return [
    'CREATE FUNCTION pggit.cicd_template(platform text) RETURNS text',
    'LANGUAGE sql IMMUTABLE AS $function$',
    '    SELECT CASE platform',
    ...cases,
    '    END',
    '$function$;',
  ].join('\n');
}

const blocks: Record<string, () => string> = { 'risk rules': rulesBlock, 'pipeline templates': templatesBlock };

/** `text` with every generated block replaced by what the sources give now. */
export function withGeneratedBlocks(text: string): string {
  let result = text;
  for (const [name, render] of Object.entries(blocks)) {
    const begin = `-- BEGIN GENERATED ${name} (npm run risk:sql; do not edit)\n`;
    const end = `-- END GENERATED ${name}\n`;
    const from = result.indexOf(begin);
    const to = result.indexOf(end, from);
    if (from < 0 || to < 0) throw new Error(`${sqlFile.pathname}: markers of the generated block "${name}" are missing`);
    result = `${result.slice(0, from + begin.length)}${render()}\n${result.slice(to)}`;
  }
  return result;
}
