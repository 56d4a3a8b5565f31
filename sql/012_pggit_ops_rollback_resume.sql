-- What lets a staged rollback's apply step be retried (activities/checks/rollback/): a retry
-- finishes the plan its first attempt started, skipping the stages pggit_ops.rollback_stages says
-- committed.
--
-- The transaction each stage committed in (pggit.history.transaction_id of the stage's own tracked
-- DDL), so the check that the approved plan is not stale can tell this run's DDL from anyone
-- else's exactly; timestamps could coincide. NULL for stages committed before this column existed.
ALTER TABLE pggit_ops.rollback_stages ADD COLUMN transaction_id xid8;

-- The plan a rollback applies, stored by its first attempt before any stage: planning again from a
-- half-rolled-back schema would give other stages, numbered afresh, where a retry must finish the
-- plan that was approved.
CREATE TABLE pggit_ops.rollback_plans (
    run_id     text PRIMARY KEY,                   -- the rollback's run (the ledger may be another database: no reference)
    steps      jsonb NOT NULL,                     -- pggit.rollback_plan's rows, in order
    stored_at  timestamptz NOT NULL DEFAULT now()
);
