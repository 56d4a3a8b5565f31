import { as } from '../nodes.ts';
import type { Checker, Rule } from '../rule.ts';

export const rule: Rule = {
  id: 'transaction-nesting',
  severity: 'medium',
  lock: null,
  message:
    'Transaction control that does not pair up: PostgreSQL has no nested transactions (a second BEGIN only warns, and the next COMMIT ' +
    'ends both), a COMMIT without BEGIN does nothing, and a transaction left open is rolled back when the session ends.',
  alternative: 'One BEGIN and one COMMIT per migration (or none, when the runner wraps each file in a transaction); use SAVEPOINT for partial rollback.',
  start: (): Checker => ({
    statement(statement, state) {
      const kind = as(statement.node, 'TransactionStmt')?.kind;
      if ((kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') && state.transactionDepth > 0) {
        return [{ at: statement.start, subject: 'BEGIN inside an open transaction' }];
      }
      if ((kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK') && state.transactionDepth === 0) {
        return [{ at: statement.start, subject: `${kind === 'TRANS_STMT_COMMIT' ? 'COMMIT' : 'ROLLBACK'} with no transaction open` }];
      }
      return [];
    },
    end: (state) => (state.transactionStart === null ? [] : [{ at: state.transactionStart, subject: 'transaction never closed' }]),
  }),
};
