import { eachStatement, type Rule } from '../rule.ts';
import { transactionBlockRefusal } from '../transactions.ts';

export const rule: Rule = {
  id: 'concurrently-in-transaction',
  severity: 'critical',
  lock: null,
  message:
    'This statement cannot run inside a transaction block: PostgreSQL refuses it with "cannot run inside a transaction block" ' +
    '(SQLSTATE 25001) and the migration fails at this point.',
  alternative: 'Move it out of BEGIN ... COMMIT into its own migration step, run on its own (a migration runner must not wrap it in a transaction).',
  start: eachStatement((statement, state) => {
    const refused = transactionBlockRefusal(statement.node);
    return refused && state.transactionDepth > 0 ? [{ at: statement.start, subject: refused }] : [];
  }),
};
