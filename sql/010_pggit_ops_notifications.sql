-- Notifications sent to the configured webhooks (activities/notifications/): one row per event
-- and webhook, so a notification that still fails after its retries is on record, never lost,
-- and a retried activity does not post to a webhook that already took it. The webhook's URL is a
-- secret and is not stored; its configured name is.

CREATE TABLE pggit_ops.notifications (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key     text NOT NULL,                   -- <run>/<step>/<event>: what happened, once
    webhook       text NOT NULL,                   -- notifications.webhooks[].name
    event         text NOT NULL CHECK (event IN ('findings', 'approval_requested', 'run_failed')),
    run_id        text NOT NULL REFERENCES pggit_ops.runs ON DELETE CASCADE,
    step_id       text,
    payload       jsonb NOT NULL,                  -- the body posted
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_key, webhook)
);
CREATE INDEX notifications_status_idx ON pggit_ops.notifications (status, created_at DESC);
