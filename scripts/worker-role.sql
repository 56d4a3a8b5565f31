-- The role pggit-ops workers connect as, with only what their steps need. Run it as a superuser in
-- each target database after `pggit-ops install` (which itself needs a superuser: event triggers
-- can only be created by one), e.g.
--   psql "$ADMIN_URL" -v worker=pggit_ops_worker -f scripts/worker-role.sql
-- then give the role a password (ALTER ROLE ... PASSWORD) and name it in the target's config.
-- docs/least-privilege.md says what each grant is for and what still needs more.
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN', :'worker')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'worker') \gexec

-- Statistics of every session and table, settings such as archive_command, pg_stat_archiver.
GRANT pg_monitor TO :"worker";
-- Read every table: pg_dump for backups, and the drill's comparison of a restore with its source.
GRANT pg_read_all_data TO :"worker";
-- pg_hba.conf as the server parses it, for the quarterly security assessment (superuser-only by
-- default; catalogs are per database, hence in each target database like the rest).
GRANT SELECT ON pg_catalog.pg_hba_file_rules TO :"worker";
GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO :"worker";

-- pggit: read it, call its read-only API, run the guide's maintenance.
GRANT USAGE ON SCHEMA pggit TO :"worker";
GRANT SELECT ON ALL TABLES IN SCHEMA pggit TO :"worker";
GRANT DELETE ON pggit.history TO :"worker";                 -- history cleanup (retention)
GRANT INSERT, UPDATE ON pggit.storage_snapshots TO :"worker";   -- daily capacity snapshots

-- The run ledger (in the database `ledger.target` names): runs, steps, findings, approvals,
-- snapshots, baselines, the backup catalog, notifications.
GRANT USAGE ON SCHEMA pggit_ops TO :"worker";
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA pggit_ops TO :"worker";
GRANT DELETE ON pggit_ops.stat_snapshots TO :"worker";      -- a retried step replaces its own snapshot
GRANT USAGE ON ALL SEQUENCES IN SCHEMA pggit_ops TO :"worker";

-- What later migrations add (a new ledger table, say) gets the same grants when `pggit-ops install`
-- runs as the role that runs this script: without them an upgrade would break the worker until
-- someone ran the script again.
ALTER DEFAULT PRIVILEGES IN SCHEMA pggit GRANT SELECT ON TABLES TO :"worker";
ALTER DEFAULT PRIVILEGES IN SCHEMA pggit_ops GRANT SELECT, INSERT, UPDATE ON TABLES TO :"worker";
ALTER DEFAULT PRIVILEGES IN SCHEMA pggit_ops GRANT USAGE ON SEQUENCES TO :"worker";
