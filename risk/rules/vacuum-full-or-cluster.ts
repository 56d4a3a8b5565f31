import { as, relationName } from '../nodes.ts';
import { eachStatement, type Rule } from '../rule.ts';

export const rule: Rule = {
  id: 'vacuum-full-or-cluster',
  severity: 'high',
  lock: 'AccessExclusiveLock',
  message: 'VACUUM FULL and CLUSTER rewrite the whole table under an ACCESS EXCLUSIVE lock: nothing can read or write it until they finish.',
  alternative: 'Plain VACUUM (no lock against reads and writes), or an online rebuild with the pg_repack extension.',
  start: eachStatement((statement, state) => {
    const vacuum = as(statement.node, 'VacuumStmt');
    const full = vacuum?.is_vacuumcmd && (vacuum.options ?? []).some((o) => as(o, 'DefElem')?.defname === 'full');
    const cluster = as(statement.node, 'ClusterStmt');
    if (!full && !cluster) return [];
    const named = full ? (vacuum.rels ?? []).map((r) => as(r, 'VacuumRelation')?.relation) : [cluster?.relation];
    const tables = named.filter((t) => t !== undefined);
    // Without a table, VACUUM FULL and CLUSTER process every table of the database (CLUSTER: every clustered one).
    if (tables.length === 0) return [{ at: statement.start, subject: 'every table' }];
    const existing = tables.filter((t) => !state.isNewTable(t));
    return existing.length === 0 ? [] : [{ at: statement.start, subject: existing.map(relationName).join(', ') }];
  }),
};
