-- The pggit-ops ledger: every run, step, finding and approval, for audit and reports. Reports, the
-- CLI and the dashboard read these tables, not each other. The ledger lives in the database of
-- the configured ledger target (`ledger.target`, default `local`); installed everywhere pggit is,
-- it stays empty where it is not used. Writers are idempotent activities: keys, not sequences,
-- decide identity, so a retried activity never records a thing twice.

CREATE SCHEMA IF NOT EXISTS pggit_ops;

CREATE TABLE pggit_ops.runs (
    run_id          text PRIMARY KEY,               -- the workflow id: <runbook>/<target>/<time>
    temporal_run_id text,
    runbook         text NOT NULL,
    target          text NOT NULL,
    params          jsonb NOT NULL DEFAULT '{}',
    initiator       text NOT NULL,                  -- who started it (authenticated by the CLI), or schedule:<id>
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    error           text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX runs_target_runbook_idx ON pggit_ops.runs (target, runbook, started_at DESC);
CREATE INDEX runs_started_at_idx ON pggit_ops.runs (started_at DESC);

CREATE TABLE pggit_ops.steps (
    run_id       text NOT NULL REFERENCES pggit_ops.runs ON DELETE CASCADE,
    step_id      text NOT NULL,
    position     integer NOT NULL,
    activity     text,
    status       text NOT NULL
                 CHECK (status IN ('pending', 'running', 'waiting_approval', 'succeeded', 'failed',
                                   'skipped', 'rejected', 'cancelled', 'compensated')),
    summary      text,
    data         jsonb,
    error        text,
    attempts     integer,
    started_at   timestamptz,
    finished_at  timestamptz,
    duration_ms  numeric,
    PRIMARY KEY (run_id, step_id)
);

CREATE TABLE pggit_ops.findings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      text NOT NULL REFERENCES pggit_ops.runs ON DELETE CASCADE,
    step_id     text NOT NULL,
    seq         integer NOT NULL,                   -- position within the step's result
    target      text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    code        text NOT NULL,
    message     text NOT NULL,
    details     jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, step_id, seq)
);
CREATE INDEX findings_target_idx ON pggit_ops.findings (target, created_at DESC);

-- Every approval decision that reached a run, accepted or refused (and why).
CREATE TABLE pggit_ops.approvals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          text NOT NULL REFERENCES pggit_ops.runs ON DELETE CASCADE,
    step_id         text NOT NULL,
    request_id      text NOT NULL UNIQUE,           -- the update id: a repeated request is one decision
    approver        text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason          text,
    outcome         text NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    refusal_reason  text,
    decided_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approvals_run_idx ON pggit_ops.approvals (run_id, step_id);

-- Point-in-time statistics a check keeps to see trends (function and table stats, sizes).
CREATE TABLE pggit_ops.stat_snapshots (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target    text NOT NULL,
    run_id    text NOT NULL,
    kind      text NOT NULL,                        -- e.g. function, table, database
    name      text NOT NULL,
    metrics   jsonb NOT NULL,
    taken_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, kind, name)
);
CREATE INDEX stat_snapshots_target_idx ON pggit_ops.stat_snapshots (target, kind, name, taken_at DESC);

-- Recorded schema baselines that drift is measured against.
CREATE TABLE pggit_ops.schema_baselines (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target       text NOT NULL,
    run_id       text,
    objects      jsonb NOT NULL,                    -- {full_name: {type, version, definition_md5}}
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (target, run_id)
);
CREATE INDEX schema_baselines_target_idx ON pggit_ops.schema_baselines (target, recorded_at DESC);
