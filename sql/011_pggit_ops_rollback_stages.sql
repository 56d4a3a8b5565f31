-- The stages a staged rollback (activities/checks/rollback/) has committed on this database, one
-- row each, written in the stage's own transaction: a row exists exactly when its stage took
-- effect. A failed rollback's revert undoes stages only when this says some committed, so a
-- rollback refused before its first stage (its plan gone stale) never reverts schema changes
-- others made since its preview. pggit_ops is not tracked, so these rows are no schema change.

CREATE TABLE pggit_ops.rollback_stages (
    run_id       text NOT NULL,              -- the rollback's run (the ledger may be another database: no reference)
    stage        integer NOT NULL,
    stage_name   text NOT NULL,
    statements   integer NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, stage)
);
