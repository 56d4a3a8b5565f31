-- pggit core: the tables the Operations Guide queries, and the configuration tracking honours.
-- Column names the guide uses are kept exactly: objects.id, objects.full_name,
-- history.change_timestamp, dependencies.dependent_object / dependency_object.

CREATE SCHEMA IF NOT EXISTS pggit;
COMMENT ON SCHEMA pggit IS 'pggit: git-style schema versioning (installed by pggit-ops)';

-- Who made a change. The tracking functions run as their owner (SECURITY DEFINER), where
-- current_user is that owner; the event trigger entry points record the invoking role first.
CREATE FUNCTION pggit.actor() RETURNS name
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('pggit.actor', true), ''), session_user)::name
$$;

-- One row per database object pggit has ever seen. full_name is PostgreSQL's own canonical,
-- quoted identity (pg_identify_object().identity): 'public.film', 'public.film.title',
-- 'public.last_day(timestamp with time zone)', 'film_pkey on public.film'.
CREATE TABLE pggit.objects (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_type     text NOT NULL,      -- table, partition, table column, index, view, materialized view,
                                        -- function, procedure, trigger, type, domain, sequence, schema,
                                        -- table constraint, domain constraint, ...
    full_name       text NOT NULL,
    schema_name     text,               -- NULL for schemas themselves
    parent_name     text,               -- owning table of a column/index/constraint/trigger; parent of a partition
    definition      text,               -- DDL that recreates the object as it is now (last one, once dropped)
    signature       text,               -- columns: type and nullability, to tell breaking changes apart
    version_major   integer NOT NULL DEFAULT 1,
    version_minor   integer NOT NULL DEFAULT 0,
    version_patch   integer NOT NULL DEFAULT 0,
    is_active       boolean NOT NULL DEFAULT true,   -- false once dropped
    -- Catalog address of the live object, to recognise renames. OIDs change on dump/restore;
    -- pggit.resync_catalog_addresses() re-binds them by full_name.
    classid         oid,
    objid           oid,
    objsubid        integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- One live object per name; dropped ones keep their rows (and history) beside a re-created one.
CREATE UNIQUE INDEX objects_active_name_key ON pggit.objects (object_type, full_name) WHERE is_active;
CREATE INDEX objects_full_name_idx ON pggit.objects (full_name);
CREATE INDEX objects_parent_name_idx ON pggit.objects (parent_name) WHERE is_active;
CREATE INDEX objects_catalog_address_idx ON pggit.objects (classid, objid, objsubid) WHERE is_active;

-- One row per change to one object. No foreign key to objects on purpose: history outlives
-- objects and is cleaned in batches; pggit.verify_database_integrity() reports orphans.
CREATE TABLE pggit.history (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_id         bigint,
    object_type       text NOT NULL,
    full_name         text NOT NULL,
    change_type       text NOT NULL CHECK (change_type IN ('CREATE', 'ALTER', 'DROP', 'RENAME', 'COMMENT', 'BASELINE')),
    change_severity   text NOT NULL CHECK (change_severity IN ('MAJOR', 'MINOR', 'PATCH', 'NONE')),
    command_tag       text,
    statement         text,             -- the top-level statement as the client sent it
    role_name         name NOT NULL DEFAULT pggit.actor(),
    change_timestamp  timestamptz NOT NULL DEFAULT now(),   -- transaction time
    transaction_id    xid8 NOT NULL DEFAULT pg_current_xact_id(),
    definition_before text,
    definition_after  text,
    version_before    text,
    version_after     text,
    old_full_name     text              -- set for RENAME
);
CREATE INDEX history_change_timestamp_idx ON pggit.history (change_timestamp);
CREATE INDEX history_object_id_idx ON pggit.history (object_id);
CREATE INDEX history_full_name_idx ON pggit.history (full_name, change_timestamp);

-- Which tracked object depends on which, read from pg_depend, by full name as the guide joins them.
CREATE TABLE pggit.dependencies (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dependent_object  text NOT NULL,
    dependency_object text NOT NULL,
    dependency_type   text NOT NULL,    -- pg_depend.deptype: n (normal) or a (auto)
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dependent_object, dependency_object)
);
CREATE INDEX dependencies_dependency_idx ON pggit.dependencies (dependency_object);

-- Failures inside tracking. The user's DDL still succeeds (unless strict mode is on).
CREATE TABLE pggit.tracking_errors (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    command_tag  text,
    statement    text,
    sqlstate     text,
    message      text,
    detail       text,
    context      text,
    role_name    name NOT NULL DEFAULT pggit.actor()
);

-- Single-row settings (configure_tracking / configure_monitoring write them).
CREATE TABLE pggit.settings (
    singleton              boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- tracking
    tracked_schemas        text[],          -- NULL: every non-system schema
    exclude_temp_tables    boolean NOT NULL DEFAULT true,
    track_system_objects   boolean NOT NULL DEFAULT false,
    strict_mode            boolean NOT NULL DEFAULT false,  -- true: a tracking failure fails the DDL
    -- monitoring and maintenance
    alert_threshold_ms     numeric NOT NULL DEFAULT 1000 CHECK (alert_threshold_ms > 0),
    batch_size             integer NOT NULL DEFAULT 1000 CHECK (batch_size > 0),
    cleanup_interval_hours integer NOT NULL DEFAULT 24 CHECK (cleanup_interval_hours > 0),
    retention_days         integer NOT NULL DEFAULT 90 CHECK (retention_days > 0),
    storage_alert_percent  numeric NOT NULL DEFAULT 10 CHECK (storage_alert_percent > 0),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pggit.settings DEFAULT VALUES;
