-- Integrity of pggit's own records against each other and against the live catalog; run after a
-- restore, in the DR drill, and whenever tracking may have been bypassed (event triggers disabled).

-- Re-binds tracked objects to their current catalog addresses by name. OIDs change when a
-- database is restored from a dump; tracking recognises renames by address, so call this after a
-- restore (the DR workflows do). Returns how many objects it re-bound.
CREATE FUNCTION pggit.resync_catalog_addresses() RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
    WITH live AS (SELECT * FROM pggit.catalog_objects()),
    moved AS (
        UPDATE pggit.objects o SET classid = l.classid, objid = l.objid, objsubid = l.objsubid
          FROM live l
         WHERE o.is_active AND o.object_type = l.object_type AND o.full_name = l.full_name
           AND (o.classid, o.objid, o.objsubid) IS DISTINCT FROM (l.classid, l.objid, l.objsubid)
        RETURNING 1
    )
    SELECT count(*)::integer FROM moved
$$;

-- One row per problem found, and one 'OK' row for each check that found none.
--   SELECT * FROM pggit.verify_database_integrity() WHERE status <> 'OK';
-- status: FAIL (pggit's records are wrong or incomplete), WARN (the catalog changed without
-- being tracked), OK.
CREATE FUNCTION pggit.verify_database_integrity()
RETURNS TABLE (check_name text, status text, object_name text, details text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    checks text[] := ARRAY['event triggers', 'settings', 'orphan history', 'missing dependency',
                           'missing object', 'definition drift', 'untracked object'];
    found_in text[] := '{}';
BEGIN
    FOR check_name, status, object_name, details IN
        WITH live AS MATERIALIZED (SELECT * FROM pggit.catalog_objects())
        SELECT 'event triggers', 'FAIL', e.name,
               CASE WHEN t.evtname IS NULL THEN 'event trigger missing: DDL is not being tracked'
                    ELSE 'event trigger disabled: DDL is not being tracked' END
          FROM (VALUES ('pggit_ddl_command_end'), ('pggit_sql_drop')) AS e(name)
          LEFT JOIN pg_event_trigger t ON t.evtname = e.name
         WHERE t.evtname IS NULL OR t.evtenabled = 'D'
        UNION ALL
        SELECT 'settings', 'FAIL', NULL, format('pggit.settings has %s rows, expected 1', count(*))
          FROM pggit.settings HAVING count(*) <> 1
        UNION ALL
        SELECT 'orphan history', 'FAIL', min(h.full_name),
               format('%s history rows point to object id %s, which does not exist', count(*), h.object_id)
          FROM pggit.history h
         WHERE h.object_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pggit.objects o WHERE o.id = h.object_id)
         GROUP BY h.object_id
        UNION ALL
        SELECT 'missing dependency', 'FAIL', d.dependent_object,
               CASE WHEN NOT EXISTS (SELECT 1 FROM pggit.objects o WHERE o.is_active AND o.full_name = d.dependent_object)
                    THEN format('MISSING DEPENDENT: %s (recorded as depending on %s) is not a live tracked object', d.dependent_object, d.dependency_object)
                    ELSE format('MISSING DEPENDENCY: %s depends on %s, which is not a live tracked object', d.dependent_object, d.dependency_object) END
          FROM pggit.dependencies d
         WHERE NOT EXISTS (SELECT 1 FROM pggit.objects o WHERE o.is_active AND o.full_name = d.dependent_object)
            OR NOT EXISTS (SELECT 1 FROM pggit.objects o WHERE o.is_active AND o.full_name = d.dependency_object)
        UNION ALL
        SELECT 'missing object', 'FAIL', o.full_name,
               format('%s %s is tracked as live (version %s) but is not in the catalog', o.object_type, o.full_name,
                      pggit.version_text(o.version_major, o.version_minor, o.version_patch))
          FROM pggit.objects o
         WHERE o.is_active AND NOT EXISTS (SELECT 1 FROM live l WHERE l.object_type = o.object_type AND l.full_name = o.full_name)
        UNION ALL
        SELECT 'definition drift', 'FAIL', o.full_name,
               format('stored definition of %s %s no longer matches the catalog', o.object_type, o.full_name)
          FROM pggit.objects o JOIN pggit.observe_all() l ON l.object_type = o.object_type AND l.full_name = o.full_name
         WHERE o.is_active AND o.definition IS DISTINCT FROM l.definition
        UNION ALL
        SELECT 'untracked object', 'WARN', l.full_name,
               format('%s %s exists but is not tracked (changed while tracking was off?); pggit.baseline() records it', l.object_type, l.full_name)
          FROM live l
         WHERE NOT EXISTS (SELECT 1 FROM pggit.objects o WHERE o.is_active AND o.object_type = l.object_type AND o.full_name = l.full_name)
    LOOP
        found_in := found_in || check_name;
        RETURN NEXT;
    END LOOP;

    FOR check_name IN SELECT c FROM unnest(checks) c WHERE c <> ALL (found_in) LOOP
        status := 'OK'; object_name := NULL; details := NULL;
        RETURN NEXT;
    END LOOP;
END
$$;
