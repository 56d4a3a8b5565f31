-- The backup catalog: one row per backup attempt of a target (activities/backup/). The daily
-- "Verify backup completion" check reads target, started_at, finished_at, status and verified;
-- restore drills pick their backup here. The dump files live in the backup store
-- (config backups.dir); `path` is relative to it, so the store can move without touching rows.

CREATE TABLE pggit_ops.backups (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    backup_id        text NOT NULL UNIQUE,          -- <target>-<kind>-<UTC time>-<4 hex of the key>
    -- The workflow run and activity that asked for it: a retried activity finds its row here
    -- instead of dumping a second time.
    idempotency_key  text NOT NULL UNIQUE,
    target           text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('full', 'pggit')),
    format           text NOT NULL CHECK (format IN ('custom', 'directory')),
    path             text NOT NULL,                  -- relative to the backup store
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    status           text NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'succeeded', 'failed', 'deleted')),
    verified         boolean NOT NULL DEFAULT false, -- the last verification found it whole
    verified_at      timestamptz,
    sha256           text,                           -- of the file, or of a directory's listing (see store.ts)
    size_bytes       bigint,
    duration_ms      bigint,
    server_version   text,
    pg_dump_version  text,
    error            text,                           -- why a failed attempt failed ('cancelled' when it was)
    manifest         jsonb                           -- the manifest written beside the dump
);
CREATE INDEX backups_target_started_at_idx ON pggit_ops.backups (target, started_at DESC);
