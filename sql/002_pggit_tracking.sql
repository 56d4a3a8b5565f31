-- pggit change tracking: event triggers record every CREATE / ALTER / DROP / RENAME / COMMENT of
-- the objects in tracked schemas into pggit.objects, pggit.history and pggit.dependencies, with the
-- definition before and after each change and a semantic version per object.
--
-- Names are PostgreSQL's own canonical identities (pg_identify_object), which quote every part
-- that needs it, so names with quotes, dots, spaces, upper case or non-ASCII letters round-trip.
-- Functions that write, or whose output depends on name resolution, fix their search_path; small
-- read-only helpers do not (they use pg_catalog, which is always searched first, and qualified
-- pggit names), so PostgreSQL can inline them into the queries that call them thousands of times.
-- Tracking functions are SECURITY DEFINER so that roles without rights on pggit can still run DDL
-- and have it recorded.

-- Which schemas are tracked, from pggit.settings.
CREATE FUNCTION pggit.is_tracked_namespace(nsp oid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN n.nspname IN ('pggit', 'pggit_ops') THEN false              -- never track ourselves
        WHEN n.nspname LIKE 'pg\_toast%' THEN false
        WHEN n.nspname LIKE 'pg\_temp\_%' THEN NOT s.exclude_temp_tables
        WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN s.track_system_objects
        WHEN s.tracked_schemas IS NOT NULL THEN n.nspname = ANY (s.tracked_schemas)
        ELSE true
    END
    FROM pg_namespace n, pggit.settings s
    WHERE n.oid = nsp
$$;

-- What pggit calls an object at a catalog address, or no row if it does not track such a thing.
CREATE FUNCTION pggit.describe(p_classid oid, p_objid oid, p_objsubid integer)
RETURNS TABLE (object_type text, full_name text, schema_name text, parent_name text,
               parent_classid oid, parent_objid oid)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    nsp oid;
    rel record;
BEGIN
    IF p_classid = 'pg_class'::regclass THEN
        SELECT c.relkind, c.relispartition, c.relnamespace INTO rel FROM pg_class c WHERE c.oid = p_objid;
        IF NOT FOUND THEN RETURN; END IF;
        nsp := rel.relnamespace;
        IF p_objsubid > 0 THEN
            -- Columns of tables only (a view's columns are part of its definition).
            IF rel.relkind NOT IN ('r', 'p', 'f') OR NOT EXISTS (
                SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_objid AND a.attnum = p_objsubid AND NOT a.attisdropped)
            THEN RETURN; END IF;
            object_type := 'table column';
            parent_classid := p_classid; parent_objid := p_objid;
        ELSE
            object_type := CASE rel.relkind
                WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'f' THEN 'foreign table'
                WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'S' THEN 'sequence' END;
            IF object_type IS NULL THEN RETURN; END IF;   -- toast tables; composite types are tracked as types
            IF rel.relispartition AND rel.relkind IN ('r', 'p', 'f') THEN
                object_type := 'partition';
                SELECT 'pg_class'::regclass, i.inhparent INTO parent_classid, parent_objid FROM pg_inherits i WHERE i.inhrelid = p_objid;
            ELSIF object_type = 'index' THEN
                SELECT 'pg_class'::regclass, x.indrelid INTO parent_classid, parent_objid FROM pg_index x WHERE x.indexrelid = p_objid;
            ELSIF object_type = 'sequence' AND EXISTS (
                SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = p_objid AND d.deptype = 'i') THEN
                RETURN;   -- an identity column's sequence is part of the column
            END IF;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = p_objid AND d.deptype = 'e') THEN
            RETURN;   -- extension members are the extension's business
        END IF;
    ELSIF p_classid = 'pg_constraint'::regclass THEN
        SELECT c.connamespace,
               CASE WHEN c.conrelid <> 0 THEN 'table constraint' ELSE 'domain constraint' END,
               CASE WHEN c.conrelid <> 0 THEN 'pg_class'::regclass ELSE 'pg_type'::regclass END,
               CASE WHEN c.conrelid <> 0 THEN c.conrelid ELSE c.contypid END
          INTO nsp, object_type, parent_classid, parent_objid
          FROM pg_constraint c WHERE c.oid = p_objid;
        IF NOT FOUND THEN RETURN; END IF;
    ELSIF p_classid = 'pg_trigger'::regclass THEN
        SELECT c.relnamespace, 'trigger', 'pg_class'::regclass, t.tgrelid INTO nsp, object_type, parent_classid, parent_objid
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE t.oid = p_objid AND NOT t.tgisinternal;
        IF NOT FOUND THEN RETURN; END IF;
    ELSIF p_classid = 'pg_proc'::regclass THEN
        SELECT p.pronamespace, CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END
          INTO nsp, object_type FROM pg_proc p WHERE p.oid = p_objid;
        IF NOT FOUND THEN RETURN; END IF;
        IF EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = p_classid AND d.objid = p_objid AND d.deptype = 'e') THEN RETURN; END IF;
    ELSIF p_classid = 'pg_type'::regclass THEN
        SELECT t.typnamespace,
               CASE WHEN t.typtype = 'd' THEN 'domain'
                    WHEN t.typtype IN ('e', 'r') THEN 'type'
                    WHEN t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c' THEN 'type' END
          INTO nsp, object_type FROM pg_type t WHERE t.oid = p_objid;
        IF object_type IS NULL THEN RETURN; END IF;   -- base, array, multirange and table row types
        IF EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = p_classid AND d.objid = p_objid AND d.deptype = 'e') THEN RETURN; END IF;
    ELSIF p_classid = 'pg_namespace'::regclass THEN
        nsp := p_objid;
        object_type := 'schema';
    ELSE
        RETURN;
    END IF;

    IF NOT pggit.is_tracked_namespace(nsp) THEN RETURN; END IF;
    full_name := (pg_identify_object(p_classid, p_objid, p_objsubid)).identity;
    IF object_type <> 'schema' THEN
        schema_name := (SELECT n.nspname FROM pg_namespace n WHERE n.oid = nsp);
    END IF;
    IF parent_objid IS NOT NULL THEN
        parent_name := (pg_identify_object(parent_classid, parent_objid, 0)).identity;
    END IF;
    RETURN NEXT;
END
$$;

-- Every live object pggit tracks, one row each.
CREATE FUNCTION pggit.catalog_objects()
RETURNS TABLE (classid oid, objid oid, objsubid integer, object_type text, full_name text, schema_name text,
               parent_name text, parent_classid oid, parent_objid oid)
LANGUAGE sql STABLE SET search_path = pg_catalog, pggit AS $$
    WITH addresses (classid, objid, objsubid) AS (
        SELECT 'pg_namespace'::regclass, n.oid, 0 FROM pg_namespace n
        UNION ALL
        SELECT 'pg_class'::regclass, c.oid, 0 FROM pg_class c WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'i', 'I', 'S')
        UNION ALL
        SELECT 'pg_class'::regclass, a.attrelid, a.attnum::integer
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT 'pg_constraint'::regclass, c.oid, 0 FROM pg_constraint c
        UNION ALL
        SELECT 'pg_trigger'::regclass, t.oid, 0 FROM pg_trigger t WHERE NOT t.tgisinternal
        UNION ALL
        SELECT 'pg_proc'::regclass, p.oid, 0 FROM pg_proc p
        UNION ALL
        SELECT 'pg_type'::regclass, t.oid, 0 FROM pg_type t WHERE t.typtype IN ('c', 'd', 'e', 'r')
    ), candidates AS (
        -- Cheap namespace filter first, so system catalogs are not described one by one.
        SELECT a.* FROM addresses a
         WHERE a.classid = 'pg_namespace'::regclass
            OR pggit.is_tracked_namespace(CASE a.classid
                 WHEN 'pg_class'::regclass THEN (SELECT c.relnamespace FROM pg_class c WHERE c.oid = a.objid)
                 WHEN 'pg_constraint'::regclass THEN (SELECT c.connamespace FROM pg_constraint c WHERE c.oid = a.objid)
                 WHEN 'pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.oid = a.objid)
                 WHEN 'pg_proc'::regclass THEN (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = a.objid)
                 WHEN 'pg_type'::regclass THEN (SELECT t.typnamespace FROM pg_type t WHERE t.oid = a.objid) END)
    )
    SELECT a.classid, a.objid, a.objsubid, d.*
      FROM candidates a CROSS JOIN LATERAL pggit.describe(a.classid, a.objid, a.objsubid) d
$$;

-- A relation's columns as they would be written in CREATE TABLE, all in one query (a table
-- definition needs every column; reading them one by one dominated the cost of tracking).
CREATE FUNCTION pggit.columns_sql(p_relid oid) RETURNS TABLE (attnum integer, sql text)
LANGUAGE sql STABLE AS $$
    SELECT a.attnum::integer,
           format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod))
        || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                THEN ' COLLATE ' || (SELECT format('%I.%I', n.nspname, co.collname) FROM pg_collation co
                                      JOIN pg_namespace n ON n.oid = co.collnamespace WHERE co.oid = a.attcollation)
                ELSE '' END
        || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                              WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
        || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED'
                WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid)
                ELSE '' END
        || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- A COMMENT statement for an object that has a comment, else ''.
CREATE FUNCTION pggit.comment_sql(p_classid oid, p_objid oid, p_objsubid integer, p_kind text, p_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT E'\n' || format('COMMENT ON %s %s IS %L;', p_kind, p_name, d.description)
                       FROM pg_description d
                      WHERE d.classoid = p_classid AND d.objoid = p_objid AND d.objsubid = p_objsubid), '')
$$;

-- DDL that recreates the object as it is now (its comment included).
CREATE FUNCTION pggit.object_definition(p_classid oid, p_objid oid, p_objsubid integer, p_object_type text)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pggit AS $$
DECLARE
    ident text := (pg_identify_object(p_classid, p_objid, p_objsubid)).identity;
    def text;
    c record;
BEGIN
    CASE p_object_type
    WHEN 'schema' THEN
        SELECT format('CREATE SCHEMA %I AUTHORIZATION %I;', n.nspname, pg_get_userbyid(n.nspowner))
          INTO def FROM pg_namespace n WHERE n.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'SCHEMA', ident);
    WHEN 'table', 'partition', 'foreign table' THEN
        SELECT * INTO c FROM pg_class WHERE oid = p_objid;
        IF c.relispartition THEN
            def := format('CREATE TABLE %s PARTITION OF %s %s', ident,
                          (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = p_objid),
                          pg_get_expr(c.relpartbound, c.oid));
        ELSE
            SELECT format(E'CREATE %sTABLE %s (\n    %s\n)', CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END, ident,
                          array_to_string(array_cat(
                              array(SELECT col.sql FROM pggit.columns_sql(p_objid) col ORDER BY col.attnum),
                              array(SELECT format('CONSTRAINT %I %s', k.conname, pg_get_constraintdef(k.oid)) FROM pg_constraint k
                                     WHERE k.conrelid = p_objid AND k.conparentid = 0 ORDER BY k.contype, k.conname)),
                          E',\n    '))
              INTO def;
            IF c.relkind = 'p' THEN
                def := def || ' PARTITION BY ' || pg_get_partkeydef(p_objid);
            END IF;
        END IF;
        IF c.reloptions IS NOT NULL THEN
            def := def || ' WITH (' || array_to_string(c.reloptions, ', ') || ')';
        END IF;
        RETURN def || ';' || pggit.comment_sql(p_classid, p_objid, 0, 'TABLE', ident);
    WHEN 'table column' THEN
        RETURN format('ALTER TABLE %s ADD COLUMN %s;', p_objid::regclass,
                      (SELECT col.sql FROM pggit.columns_sql(p_objid) col WHERE col.attnum = p_objsubid))
            || pggit.comment_sql(p_classid, p_objid, p_objsubid, 'COLUMN', ident);
    WHEN 'index' THEN
        RETURN pg_get_indexdef(p_objid) || ';' || pggit.comment_sql(p_classid, p_objid, 0, 'INDEX', ident);
    WHEN 'view' THEN
        SELECT format('CREATE OR REPLACE VIEW %s%s AS%s', ident,
                      coalesce(' WITH (' || array_to_string(reloptions, ', ') || ')', ''),
                      E'\n' || rtrim(pg_get_viewdef(p_objid, true), ';'))
          INTO def FROM pg_class WHERE oid = p_objid;
        RETURN def || ';' || pggit.comment_sql(p_classid, p_objid, 0, 'VIEW', ident);
    WHEN 'materialized view' THEN
        RETURN format(E'CREATE MATERIALIZED VIEW %s AS\n%s\nWITH DATA;', ident, rtrim(pg_get_viewdef(p_objid, true), ';'))
            || pggit.comment_sql(p_classid, p_objid, 0, 'MATERIALIZED VIEW', ident);
    WHEN 'sequence' THEN
        SELECT format('CREATE SEQUENCE %s AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s;',
                      ident, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
                      CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END)
            || coalesce((SELECT format(E'\nALTER SEQUENCE %s OWNED BY %s.%I;', ident, d.refobjid::regclass, a.attname)
                           FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = p_objid AND d.deptype = 'a'
                            AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0), '')
          INTO def FROM pg_sequence s WHERE s.seqrelid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'SEQUENCE', ident);
    WHEN 'function', 'procedure' THEN
        RETURN rtrim(pg_get_functiondef(p_objid), E'\n') || ';'
            || pggit.comment_sql(p_classid, p_objid, 0, upper(p_object_type), ident);
    WHEN 'aggregate' THEN
        SELECT format('CREATE AGGREGATE %s.%I(%s) (SFUNC = %s, STYPE = %s%s%s%s);',
                      quote_ident(n.nspname), p.proname, pg_get_function_identity_arguments(p.oid),
                      a.aggtransfn::regproc, format_type(a.aggtranstype, NULL),
                      CASE WHEN a.aggfinalfn <> 0 THEN ', FINALFUNC = ' || a.aggfinalfn::regproc ELSE '' END,
                      CASE WHEN a.agginitval IS NOT NULL THEN format(', INITCOND = %L', a.agginitval) ELSE '' END,
                      CASE WHEN a.aggsortop <> 0 THEN ', SORTOP = OPERATOR(' || a.aggsortop::regoperator::text || ')' ELSE '' END)
          INTO def
          FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'AGGREGATE', ident);
    WHEN 'trigger' THEN
        RETURN pg_get_triggerdef(p_objid, true) || ';' || pggit.comment_sql(p_classid, p_objid, 0, 'TRIGGER', ident);
    WHEN 'table constraint' THEN
        SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s;', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid))
          INTO def FROM pg_constraint k WHERE k.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'CONSTRAINT', ident);
    WHEN 'domain constraint' THEN
        SELECT format('ALTER DOMAIN %s ADD CONSTRAINT %I %s;', k.contypid::regtype, k.conname, pg_get_constraintdef(k.oid))
          INTO def FROM pg_constraint k WHERE k.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'CONSTRAINT', ident);
    WHEN 'domain' THEN
        SELECT format('CREATE DOMAIN %s AS %s', ident, format_type(t.typbasetype, t.typtypmod))
            || CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation
                    THEN ' COLLATE ' || t.typcollation::regcollation::text ELSE '' END
            || CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault ELSE '' END
            || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
            || coalesce((SELECT string_agg(format(E'\n    CONSTRAINT %I %s', k.conname, pg_get_constraintdef(k.oid)), '' ORDER BY k.conname)
                           FROM pg_constraint k WHERE k.contypid = t.oid), '')
            || ';'
          INTO def FROM pg_type t JOIN pg_type bt ON bt.oid = t.typbasetype WHERE t.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'DOMAIN', ident);
    WHEN 'type' THEN
        SELECT CASE t.typtype
                 WHEN 'e' THEN format('CREATE TYPE %s AS ENUM (%s);', ident,
                                      (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                         FROM pg_enum e WHERE e.enumtypid = t.oid))
                 WHEN 'c' THEN format(E'CREATE TYPE %s AS (\n    %s\n);', ident,
                                      (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), E',\n    ' ORDER BY a.attnum)
                                         FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
                 WHEN 'r' THEN format('CREATE TYPE %s AS RANGE (SUBTYPE = %s);', ident,
                                      (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid))
               END
          INTO def FROM pg_type t WHERE t.oid = p_objid;
        RETURN def || pggit.comment_sql(p_classid, p_objid, 0, 'TYPE', ident);
    ELSE
        RETURN NULL;
    END CASE;
END
$$;

-- Columns get a signature so a type change or a new NOT NULL (breaking) can be told from a new default.
CREATE FUNCTION pggit.object_signature(p_classid oid, p_objid oid, p_objsubid integer, p_object_type text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
      FROM pg_attribute a
     WHERE p_object_type = 'table column' AND a.attrelid = p_objid AND a.attnum = p_objsubid
$$;

-- The tracked object a referenced catalog entry belongs to: a rule to its view, a default to its
-- column, an array or row type to its element or table, a view column to the view.
CREATE FUNCTION pggit.owner_of(p_classid oid, p_objid oid, p_objsubid integer)
RETURNS TABLE (full_name text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c oid := p_classid; o oid := p_objid; s integer := p_objsubid;
    owner_rel oid;
BEGIN
    IF c = 'pg_rewrite'::regclass THEN
        SELECT 'pg_class'::regclass, r.ev_class, 0 INTO c, o, s FROM pg_rewrite r WHERE r.oid = p_objid;
    ELSIF c = 'pg_attrdef'::regclass THEN
        SELECT 'pg_class'::regclass, d.adrelid, d.adnum INTO c, o, s FROM pg_attrdef d WHERE d.oid = p_objid;
    ELSIF c = 'pg_type'::regclass THEN
        SELECT CASE WHEN t.typelem <> 0 AND t.typsubscript = 'array_subscript_handler'::regproc THEN t.typelem ELSE t.oid END,
               CASE WHEN t.typtype = 'c' THEN t.typrelid END
          INTO o, owner_rel FROM pg_type t WHERE t.oid = p_objid;
        IF owner_rel IS NOT NULL AND (SELECT relkind FROM pg_class WHERE oid = owner_rel) <> 'c' THEN
            c := 'pg_class'::regclass; o := owner_rel; s := 0;   -- a table's row type is the table
        END IF;
    ELSIF c = 'pg_class'::regclass AND s > 0
          AND (SELECT relkind FROM pg_class WHERE oid = o) NOT IN ('r', 'p', 'f') THEN
        s := 0;
    END IF;
    RETURN QUERY SELECT d.full_name FROM pggit.describe(c, o, s) d;
END
$$;

-- Re-reads what a tracked object depends on (pg_depend, normal and automatic dependencies).
-- A view's query lives in its rewrite rule and a column's default in pg_attrdef, so their
-- dependencies count as the view's and the column's. Three index lookups, no scan of pg_depend.
CREATE FUNCTION pggit.refresh_dependencies(p_classid oid, p_objid oid, p_objsubid integer, p_full_name text)
RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pggit AS $$
    DELETE FROM pggit.dependencies WHERE dependent_object = p_full_name;
    WITH refs AS (
        SELECT d.refclassid, d.refobjid, d.refobjsubid, d.deptype FROM pg_depend d
         WHERE d.classid = p_classid AND d.objid = p_objid AND d.objsubid = p_objsubid
        UNION ALL
        SELECT d.refclassid, d.refobjid, d.refobjsubid, d.deptype
          FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
         WHERE p_classid = 'pg_class'::regclass AND p_objsubid = 0 AND r.ev_class = p_objid
        UNION ALL
        SELECT d.refclassid, d.refobjid, d.refobjsubid, d.deptype
          FROM pg_attrdef a JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = a.oid
         WHERE p_classid = 'pg_class'::regclass AND p_objsubid > 0 AND a.adrelid = p_objid AND a.adnum = p_objsubid
    )
    INSERT INTO pggit.dependencies (dependent_object, dependency_object, dependency_type)
    SELECT DISTINCT ON (o.full_name) p_full_name, o.full_name, r.deptype
      FROM refs r CROSS JOIN LATERAL pggit.owner_of(r.refclassid, r.refobjid, r.refobjsubid) o
     WHERE r.deptype IN ('n', 'a') AND o.full_name <> p_full_name
     ORDER BY o.full_name, r.deptype DESC
    ON CONFLICT (dependent_object, dependency_object) DO NOTHING;
$$;

CREATE FUNCTION pggit.severity_rank(severity text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE severity WHEN 'MAJOR' THEN 3 WHEN 'MINOR' THEN 2 WHEN 'PATCH' THEN 1 ELSE 0 END
$$;

CREATE FUNCTION pggit.max_severity(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN pggit.severity_rank(a) >= pggit.severity_rank(b) THEN a ELSE b END
$$;

CREATE FUNCTION pggit.version_text(major integer, minor integer, patch integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT major || '.' || minor || '.' || patch $$;

-- Records one change of one object: bumps its version, writes history, re-reads its dependencies.
-- Returns the severity recorded, or NULL when nothing about the object changed.
CREATE FUNCTION pggit.record_object(p_classid oid, p_objid oid, p_objsubid integer, p_command_tag text,
                                    p_severity_hint text DEFAULT NULL, p_baseline boolean DEFAULT false,
                                    p_definition text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    d record;
    obj pggit.objects%ROWTYPE;
    new_def text;
    new_sig text;
    change text;
    severity text;
    old_version text;
    old_definition text;
BEGIN
    SELECT * INTO d FROM pggit.describe(p_classid, p_objid, p_objsubid);
    IF NOT FOUND THEN RETURN NULL; END IF;
    new_def := coalesce(p_definition, pggit.object_definition(p_classid, p_objid, p_objsubid, d.object_type));
    new_sig := pggit.object_signature(p_classid, p_objid, p_objsubid, d.object_type);

    -- The live object is known by its catalog address; after a rename only the address still matches.
    SELECT * INTO obj FROM pggit.objects o
     WHERE o.is_active AND o.classid = p_classid AND o.objid = p_objid AND o.objsubid = p_objsubid;
    IF NOT FOUND THEN
        -- After a restore the addresses are new; a dropped object re-created takes up its old row.
        SELECT * INTO obj FROM pggit.objects o WHERE o.object_type = d.object_type AND o.full_name = d.full_name
         ORDER BY o.is_active DESC, o.id DESC LIMIT 1;
    END IF;

    IF obj.id IS NULL THEN
        change := CASE WHEN p_baseline THEN 'BASELINE' ELSE 'CREATE' END;
        severity := CASE WHEN p_baseline THEN 'NONE' ELSE 'MINOR' END;
        INSERT INTO pggit.objects (object_type, full_name, schema_name, parent_name, definition, signature, classid, objid, objsubid)
        VALUES (d.object_type, d.full_name, d.schema_name, d.parent_name, new_def, new_sig, p_classid, p_objid, p_objsubid)
        RETURNING * INTO obj;
    ELSE
        old_version := pggit.version_text(obj.version_major, obj.version_minor, obj.version_patch);
        old_definition := CASE WHEN obj.is_active THEN obj.definition END;
        IF NOT obj.is_active THEN
            change := 'CREATE'; severity := 'MAJOR';          -- re-created after a drop
        ELSIF obj.full_name <> d.full_name THEN
            change := 'RENAME'; severity := 'MAJOR';          -- clients using the old name break
        ELSIF obj.definition IS NOT DISTINCT FROM new_def THEN
            IF p_severity_hint IS NULL OR p_baseline THEN
                -- Nothing changed (ALTER ... OWNER TO, a repeated baseline); keep the address current
                -- (it differs after a restore) without writing a new row version when it is.
                UPDATE pggit.objects SET classid = p_classid, objid = p_objid, objsubid = p_objsubid
                 WHERE id = obj.id AND (classid, objid, objsubid) IS DISTINCT FROM (p_classid, p_objid, p_objsubid);
                RETURN NULL;
            END IF;
            change := 'ALTER'; severity := p_severity_hint;   -- e.g. an index added to this table
        ELSIF p_command_tag = 'COMMENT' THEN
            change := 'COMMENT'; severity := 'PATCH';
        ELSIF d.object_type = 'table column' AND obj.signature IS DISTINCT FROM new_sig
              AND (split_part(obj.signature, ' NOT NULL', 1) <> split_part(new_sig, ' NOT NULL', 1)
                   OR (new_sig LIKE '% NOT NULL' AND obj.signature NOT LIKE '% NOT NULL')) THEN
            change := 'ALTER'; severity := 'MAJOR';           -- type changed, or NOT NULL added
        ELSE
            change := 'ALTER'; severity := pggit.max_severity('MINOR', p_severity_hint);
        END IF;
        UPDATE pggit.objects o SET
            object_type = d.object_type, full_name = d.full_name, schema_name = d.schema_name, parent_name = d.parent_name,
            definition = new_def, signature = new_sig, is_active = true,
            classid = p_classid, objid = p_objid, objsubid = p_objsubid, updated_at = now(),
            version_major = CASE severity WHEN 'MAJOR' THEN o.version_major + 1 ELSE o.version_major END,
            version_minor = CASE severity WHEN 'MAJOR' THEN 0 WHEN 'MINOR' THEN o.version_minor + 1 ELSE o.version_minor END,
            version_patch = CASE severity WHEN 'PATCH' THEN o.version_patch + 1 WHEN 'NONE' THEN o.version_patch ELSE 0 END
         WHERE o.id = obj.id;
        IF change = 'RENAME' THEN
            UPDATE pggit.dependencies SET dependency_object = d.full_name WHERE dependency_object = obj.full_name;
            UPDATE pggit.dependencies SET dependent_object = d.full_name WHERE dependent_object = obj.full_name;
        END IF;
    END IF;

    INSERT INTO pggit.history (object_id, object_type, full_name, change_type, change_severity, command_tag, statement,
                               definition_before, definition_after, version_before, version_after, old_full_name)
    SELECT obj.id, d.object_type, d.full_name, change, severity, p_command_tag,
           CASE WHEN p_baseline THEN NULL ELSE current_query() END,
           old_definition, new_def,
           old_version, pggit.version_text(o.version_major, o.version_minor, o.version_patch),
           CASE WHEN change = 'RENAME' THEN obj.full_name END
      FROM pggit.objects o WHERE o.id = obj.id;

    PERFORM pggit.refresh_dependencies(p_classid, p_objid, p_objsubid, d.full_name);
    RETURN severity;
END
$$;

-- The parts recorded with an object: a table's columns, constraints, triggers and indexes (a
-- constraint brings its index along unannounced); a domain's constraints.
CREATE FUNCTION pggit.parts_of(p_classid oid, p_objid oid) RETURNS TABLE (classid oid, objid oid, objsubid integer)
LANGUAGE sql STABLE AS $$
    SELECT 'pg_class'::regclass, a.attrelid, a.attnum::integer FROM pg_attribute a
     WHERE p_classid = 'pg_class'::regclass AND a.attrelid = p_objid AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'pg_constraint'::regclass, k.oid, 0 FROM pg_constraint k
     WHERE (p_classid = 'pg_class'::regclass AND k.conrelid = p_objid) OR (p_classid = 'pg_type'::regclass AND k.contypid = p_objid)
    UNION ALL
    SELECT 'pg_trigger'::regclass, t.oid, 0 FROM pg_trigger t
     WHERE p_classid = 'pg_class'::regclass AND t.tgrelid = p_objid AND NOT t.tgisinternal
    UNION ALL
    SELECT 'pg_class'::regclass, x.indexrelid, 0 FROM pg_index x
     WHERE p_classid = 'pg_class'::regclass AND x.indrelid = p_objid
$$;

-- Records an object with its parts; its severity is the largest of its parts' changes.
-- Most ALTERs change one thing, so parts are re-read only where something can have changed: a new
-- or renamed part always; the definition of every part only when the object's own definition
-- changed (columns and constraints are written into it). Partitions follow their parent when the
-- parent changed (ALTER on the parent reaches every partition) or when their attachment did
-- (ATTACH and DETACH PARTITION are announced on the parent only).
CREATE FUNCTION pggit.record_with_parts(p_classid oid, p_objid oid, p_command_tag text, p_severity_hint text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    own record;
    own_type text;
    own_def text;
    own_changed boolean;
    part record;
    parts_severity text := p_severity_hint;
    partition record;
BEGIN
    SELECT o.* INTO own FROM pggit.objects o
     WHERE o.is_active AND o.classid = p_classid AND o.objid = p_objid AND o.objsubid = 0;
    own_type := coalesce(own.object_type, (SELECT d.object_type FROM pggit.describe(p_classid, p_objid, 0) d));
    own_def := pggit.object_definition(p_classid, p_objid, 0, own_type);
    own_changed := own.id IS NULL
        OR own.full_name IS DISTINCT FROM (pg_identify_object(p_classid, p_objid, 0)).identity
        OR own.definition IS DISTINCT FROM own_def;

    -- A column or constraint whose line in the old definition is unchanged has not changed (its
    -- comment only changes by COMMENT, which is announced on the part itself).
    FOR part IN
        WITH old_lines AS (
            SELECT btrim(rtrim(l, ','), ' ') AS line FROM unnest(string_to_array(own.definition, E'\n')) l
        ), columns AS MATERIALIZED (
            SELECT c.* FROM pggit.columns_sql(p_objid) c WHERE own_changed AND p_classid = 'pg_class'::regclass
        )
        SELECT p.* FROM pggit.parts_of(p_classid, p_objid) p
          LEFT JOIN pggit.objects o ON o.is_active AND o.classid = p.classid AND o.objid = p.objid AND o.objsubid = p.objsubid
         WHERE o.id IS NULL
            -- parts are renamed on their own events (RENAME COLUMN reports the column); here
            -- only renaming the object itself renames its parts
            OR (own.full_name IS DISTINCT FROM (pg_identify_object(p_classid, p_objid, 0)).identity
                AND o.full_name IS DISTINCT FROM (pg_identify_object(p.classid, p.objid, p.objsubid)).identity)
            OR (own_changed AND CASE
                  WHEN p.objsubid > 0 THEN NOT EXISTS (
                      SELECT 1 FROM columns c JOIN old_lines ON old_lines.line = c.sql WHERE c.attnum = p.objsubid)
                  WHEN p.classid = 'pg_constraint'::regclass THEN NOT EXISTS (
                      SELECT 1 FROM pg_constraint k JOIN old_lines ON old_lines.line = format('CONSTRAINT %I %s', k.conname, pg_get_constraintdef(k.oid))
                       WHERE k.oid = p.objid)
                  ELSE o.definition IS DISTINCT FROM pggit.object_definition(p.classid, p.objid, p.objsubid, o.object_type)
                END)
    LOOP
        parts_severity := pggit.max_severity(parts_severity,
            pggit.record_object(part.classid, part.objid, part.objsubid, p_command_tag));
    END LOOP;

    IF p_classid = 'pg_class'::regclass THEN
        FOR partition IN
            -- attached now: follow the parent's change, or a new attachment
            SELECT i.inhrelid AS relid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              LEFT JOIN pggit.objects o ON o.is_active AND o.classid = 'pg_class'::regclass AND o.objid = i.inhrelid AND o.objsubid = 0
             WHERE i.inhparent = p_objid AND c.relkind IN ('r', 'p', 'f')
               AND (own_changed OR o.id IS NULL OR o.object_type <> 'partition')
            UNION
            -- recorded as this table's partition but no longer attached: detached
            SELECT o.objid FROM pggit.objects o
             WHERE o.is_active AND o.object_type = 'partition' AND o.parent_name = own.full_name
               AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = o.objid AND i.inhparent = p_objid)
        LOOP
            PERFORM pggit.record_with_parts(p_classid, partition.relid, p_command_tag);
        END LOOP;
    END IF;

    IF NOT own_changed AND parts_severity IS NULL THEN
        RETURN NULL;   -- ALTER ... OWNER TO, SET STATISTICS and the like: nothing pggit versions
    END IF;
    RETURN pggit.record_object(p_classid, p_objid, 0, p_command_tag, parts_severity, false, own_def);
END
$$;

-- Objects whose definition prints the name or definition of a changed object (a view names the
-- columns it reads, an index its columns, a foreign key the referenced table) are re-read after
-- the statement: a rename changes their text without any DDL of their own.
CREATE FUNCTION pggit.record_dependents(p_changed text[], p_command_tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    dependent record;
    changed_parents text[] := '{}';
BEGIN
    FOR dependent IN
        SELECT DISTINCT o.classid, o.objid, o.objsubid, o.parent_name
          FROM pggit.dependencies d
          JOIN pggit.objects o ON o.is_active AND o.full_name = d.dependent_object
         WHERE d.dependency_object = ANY (p_changed) AND o.full_name <> ALL (p_changed)
    LOOP
        IF pggit.record_object(dependent.classid, dependent.objid, dependent.objsubid, p_command_tag) IS NOT NULL
           AND dependent.parent_name IS NOT NULL THEN
            changed_parents := changed_parents || dependent.parent_name;
        END IF;
    END LOOP;
    -- A table prints its constraints: a foreign key that now names another column changes it too.
    PERFORM pggit.record_object(o.classid, o.objid, 0, p_command_tag)
       FROM pggit.objects o
      WHERE o.is_active AND o.objsubid = 0 AND o.object_type IN ('table', 'partition', 'foreign table', 'domain')
        AND o.full_name = ANY (changed_parents) AND o.full_name <> ALL (p_changed);
END
$$;

-- Tracking must never break a user's DDL: errors are recorded, and re-raised only in strict mode.
CREATE FUNCTION pggit.record_tracking_error(p_command_tag text, p_sqlstate text, p_message text, p_detail text, p_context text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
BEGIN
    INSERT INTO pggit.tracking_errors (command_tag, statement, sqlstate, message, detail, context)
    VALUES (p_command_tag, current_query(), p_sqlstate, p_message, p_detail, p_context);
    IF (SELECT strict_mode FROM pggit.settings) THEN
        RAISE EXCEPTION 'pggit tracking failed (strict mode): %', p_message USING ERRCODE = p_sqlstate, DETAIL = p_detail;
    END IF;
END
$$;

-- Marks the columns of a dropped table as dropped, each with its own history row.
CREATE FUNCTION pggit.drop_columns_of(p_table text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
    WITH old AS (
        SELECT * FROM pggit.objects o WHERE o.is_active AND o.parent_name = p_table AND o.object_type = 'table column'
    ), gone AS (
        UPDATE pggit.objects o SET is_active = false, updated_at = now(),
               version_major = o.version_major + 1, version_minor = 0, version_patch = 0
          FROM old WHERE o.id = old.id
    ), deps AS (
        DELETE FROM pggit.dependencies WHERE dependent_object IN (SELECT full_name FROM old)
                                          OR dependency_object IN (SELECT full_name FROM old)
    )
    INSERT INTO pggit.history (object_id, object_type, full_name, change_type, change_severity, command_tag, statement,
                               definition_before, definition_after, version_before, version_after)
    SELECT old.id, old.object_type, old.full_name, 'DROP', 'MAJOR', 'DROP TABLE', current_query(), old.definition, NULL,
           pggit.version_text(old.version_major, old.version_minor, old.version_patch),
           pggit.version_text(old.version_major + 1, 0, 0)
      FROM old;
$$;

-- The sql_drop trigger tells ddl_command_end of the same ALTER TABLE which tables lost a part,
-- through a transaction-local setting, so nothing outlives the statement's transaction.
CREATE FUNCTION pggit.track_dropped_objects(tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    r record;
    obj pggit.objects%ROWTYPE;
    dropped text[] := '{}';
    touched jsonb := '{}';
    parent text;
BEGIN
    FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
        SELECT * INTO obj FROM pggit.objects o
         WHERE o.is_active AND ((o.classid = r.classid AND o.objid = r.objid AND o.objsubid = r.objsubid)
                                OR (o.full_name = r.object_identity AND o.object_type = CASE r.object_type
                                        WHEN 'composite type' THEN 'type' WHEN 'enum type' THEN 'type' ELSE r.object_type END))
         ORDER BY (o.classid = r.classid AND o.objid = r.objid) DESC
         LIMIT 1;
        CONTINUE WHEN NOT FOUND;
        UPDATE pggit.objects SET is_active = false, updated_at = now(),
               version_major = version_major + 1, version_minor = 0, version_patch = 0
         WHERE id = obj.id;
        INSERT INTO pggit.history (object_id, object_type, full_name, change_type, change_severity, command_tag, statement,
                                   definition_before, definition_after, version_before, version_after)
        VALUES (obj.id, obj.object_type, obj.full_name, 'DROP', 'MAJOR', tag, current_query(),
                obj.definition, NULL,
                pggit.version_text(obj.version_major, obj.version_minor, obj.version_patch),
                pggit.version_text(obj.version_major + 1, 0, 0));
        DELETE FROM pggit.dependencies WHERE dependent_object = obj.full_name OR dependency_object = obj.full_name;
        dropped := dropped || obj.full_name;
        IF obj.object_type IN ('table', 'partition', 'foreign table') THEN
            PERFORM pggit.drop_columns_of(obj.full_name);   -- columns are not listed among dropped objects
        END IF;
        IF obj.parent_name IS NOT NULL THEN
            touched := touched || jsonb_build_object(obj.parent_name,
                CASE WHEN obj.object_type = 'index' THEN 'PATCH' ELSE 'MAJOR' END);
        END IF;
    END LOOP;
    -- Parents that survive the statement get a new version for the part they lost. ALTER TABLE
    -- reaches ddl_command_end too, which records the table itself; hand it the severity.
    FOR parent IN SELECT jsonb_object_keys(touched) LOOP
        CONTINUE WHEN parent = ANY (dropped);
        IF tag = 'ALTER TABLE' THEN
            PERFORM set_config('pggit.lost_parts', coalesce(current_setting('pggit.lost_parts', true), '') || parent || E'\n', true);
        ELSE
            PERFORM pggit.record_object(o.classid, o.objid, 0, tag, touched ->> parent)
               FROM pggit.objects o WHERE o.is_active AND o.full_name = parent AND o.objsubid = 0;
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION pggit.track_ddl_commands(tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    r record;
    d record;
    done text[] := '{}';          -- objects recorded by this statement
    parents jsonb := '{}';        -- parent table -> severity its parts' changes give it
    lost text[] := string_to_array(rtrim(coalesce(current_setting('pggit.lost_parts', true), ''), E'\n'), E'\n');
    severity text;
    parent text;
    history_before bigint := (SELECT coalesce(max(h.id), 0) FROM pggit.history h);
BEGIN
    PERFORM set_config('pggit.lost_parts', '', true);
    FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE NOT in_extension LOOP
        SELECT * INTO d FROM pggit.describe(r.classid, r.objid, r.objsubid);
        CONTINUE WHEN NOT FOUND;
        IF d.object_type IN ('table', 'partition', 'foreign table', 'domain') THEN
            PERFORM pggit.record_with_parts(r.classid, r.objid, r.command_tag,
                                            CASE WHEN d.full_name = ANY (lost) THEN 'MAJOR' END);
        ELSE
            severity := pggit.record_object(r.classid, r.objid, r.objsubid, r.command_tag);
            IF severity IS NOT NULL AND d.parent_name IS NOT NULL AND d.object_type <> 'partition' THEN
                parents := parents || jsonb_build_object(d.parent_name, pggit.max_severity(parents ->> d.parent_name,
                    CASE WHEN d.object_type = 'index' THEN 'PATCH' ELSE severity END));
            END IF;
        END IF;
        done := done || d.full_name;
    END LOOP;
    -- A part changed on its own (CREATE INDEX, CREATE TRIGGER, RENAME COLUMN, COMMENT ON COLUMN):
    -- its table gets a version too, unless this statement already recorded the table.
    FOR parent IN SELECT jsonb_object_keys(parents) LOOP
        CONTINUE WHEN parent = ANY (done);
        -- With its parts: a renamed column also renames it inside the table's index definitions.
        PERFORM pggit.record_with_parts(o.classid, o.objid, tag, parents ->> parent)
           FROM pggit.objects o WHERE o.is_active AND o.full_name = parent AND o.objsubid = 0
            AND o.object_type IN ('table', 'partition', 'foreign table', 'domain')
            AND o.created_at < now();   -- a table created in this transaction includes its parts
    END LOOP;
    -- Only a rename changes the text of its dependents (a column whose type changes cannot be
    -- used by a view; indexes and foreign keys print names, not types).
    PERFORM pggit.record_dependents(
        ARRAY(SELECT DISTINCT h.full_name FROM pggit.history h
               WHERE h.id > history_before AND h.transaction_id = pg_current_xact_id()
                 AND h.change_type = 'RENAME'),
        tag);
END
$$;

-- Records every tracked object not yet known (all of them on a fresh install), as version 1.0.0.
-- Safe to run again: known objects are left as they are. Returns how many it added.
CREATE FUNCTION pggit.baseline() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    o record;
    added integer := 0;
BEGIN
    FOR o IN SELECT c.* FROM pggit.catalog_objects() c
              WHERE NOT EXISTS (SELECT 1 FROM pggit.objects k WHERE k.is_active AND k.object_type = c.object_type AND k.full_name = c.full_name)
              ORDER BY c.classid = 'pg_namespace'::regclass DESC, c.objsubid LOOP
        IF pggit.record_object(o.classid, o.objid, o.objsubid, 'BASELINE', NULL, true) IS NOT NULL THEN
            added := added + 1;
        END IF;
    END LOOP;
    RETURN added;
END
$$;

-- configure_tracking(schemas => ARRAY[...], exclude_temp_tables => true, track_system_objects => false)
-- NULL leaves a setting as it is; pass schemas => '{}'::text[]... to track nothing, or call
-- pggit.track_all_schemas() to go back to every non-system schema. Newly tracked schemas are baselined.
CREATE FUNCTION pggit.configure_tracking(schemas text[] DEFAULT NULL, exclude_temp_tables boolean DEFAULT NULL,
                                         track_system_objects boolean DEFAULT NULL, strict_mode boolean DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    missing text[];
    s pggit.settings%ROWTYPE;
BEGIN
    IF schemas IS NOT NULL AND array_position(schemas, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'configure_tracking: schemas must not contain NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    missing := ARRAY(SELECT x FROM unnest(schemas) x WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = x));
    IF cardinality(missing) > 0 THEN
        RAISE NOTICE 'configure_tracking: schemas % do not exist yet; they will be tracked once created', missing;
    END IF;
    UPDATE pggit.settings SET
        tracked_schemas = coalesce(configure_tracking.schemas, settings.tracked_schemas),
        exclude_temp_tables = coalesce(configure_tracking.exclude_temp_tables, settings.exclude_temp_tables),
        track_system_objects = coalesce(configure_tracking.track_system_objects, settings.track_system_objects),
        strict_mode = coalesce(configure_tracking.strict_mode, settings.strict_mode),
        updated_at = now()
    RETURNING * INTO s;
    PERFORM pggit.baseline();
    RETURN jsonb_build_object('schemas', s.tracked_schemas, 'exclude_temp_tables', s.exclude_temp_tables,
                              'track_system_objects', s.track_system_objects, 'strict_mode', s.strict_mode);
END
$$;

CREATE FUNCTION pggit.track_all_schemas() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
BEGIN
    UPDATE pggit.settings SET tracked_schemas = NULL, updated_at = now();
    RETURN pggit.configure_tracking();
END
$$;

-- The canonical identity of whatever `name` denotes to PostgreSQL (with the caller's search_path
-- and quoting rules): a relation, a function with or without its argument list, a type or a schema.
CREATE FUNCTION pggit.resolve_name(name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$   -- no fixed search_path: names resolve as the caller sees them
DECLARE
    kind text;
    identity text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['pg_class', 'pg_proc_args', 'pg_proc', 'pg_type', 'pg_namespace'] LOOP
        BEGIN
            -- The to_reg* functions return NULL for a missing object but raise on malformed
            -- input (e.g. 'a.b.c.d', or a name without parentheses for to_regprocedure).
            identity := CASE kind
                WHEN 'pg_class' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_class'::pg_catalog.regclass, pg_catalog.to_regclass(name), 0)).identity
                WHEN 'pg_proc_args' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_proc'::pg_catalog.regclass, pg_catalog.to_regprocedure(name), 0)).identity
                WHEN 'pg_proc' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_proc'::pg_catalog.regclass, pg_catalog.to_regproc(name), 0)).identity
                WHEN 'pg_type' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_type'::pg_catalog.regclass, pg_catalog.to_regtype(name), 0)).identity
                WHEN 'pg_namespace' THEN (pg_catalog.pg_identify_object('pg_catalog.pg_namespace'::pg_catalog.regclass, pg_catalog.to_regnamespace(name), 0)).identity
            END;
        EXCEPTION WHEN OTHERS THEN
            identity := NULL;
        END;
        IF identity IS NOT NULL THEN RETURN identity; END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- get_version('public.film'), get_version('film') (resolved through the caller's search_path),
-- get_version('public.film.title'), get_version('public.last_day(timestamp with time zone)').
-- NULL for an object pggit does not track (such as 'pg_class' with track_system_objects off).
CREATE FUNCTION pggit.get_version(object_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pggit.version_text(o.version_major, o.version_minor, o.version_patch)
      FROM pggit.objects o
     WHERE o.is_active AND o.full_name IN (object_name, pggit.resolve_name(object_name))
     ORDER BY o.full_name = object_name DESC, o.objsubid, o.id
     LIMIT 1
$$;

-- The event triggers' entry point runs as the role that issued the DDL: it notes who that is,
-- then hands over to the tracking functions, which run as pggit's owner (so that roles without
-- rights on pggit still have their DDL recorded).
-- Runs the tracking for one event inside a subtransaction: whatever fails is recorded, and the
-- user's statement goes on (strict mode re-raises).
CREATE FUNCTION pggit.track_event(event text, tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pggit AS $$
DECLARE
    err_state text; err_message text; err_detail text; err_context text;
BEGIN
    IF event = 'sql_drop' THEN
        PERFORM pggit.track_dropped_objects(tag);
    ELSE
        PERFORM pggit.track_ddl_commands(tag);
    END IF;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                            err_detail = PG_EXCEPTION_DETAIL, err_context = PG_EXCEPTION_CONTEXT;
    PERFORM pggit.record_tracking_error(tag, err_state, err_message, err_detail, err_context);
END
$$;

CREATE FUNCTION pggit.on_ddl_event() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pggit AS $$
BEGIN
    PERFORM set_config('pggit.actor', current_user, true);
    PERFORM pggit.track_event(tg_event, tg_tag);
END
$$;

CREATE EVENT TRIGGER pggit_ddl_command_end ON ddl_command_end EXECUTE FUNCTION pggit.on_ddl_event();
CREATE EVENT TRIGGER pggit_sql_drop ON sql_drop EXECUTE FUNCTION pggit.on_ddl_event();

SELECT pggit.baseline();

-- Any role's DDL fires the entry points, which call into pggit: every role needs the schema.
-- Functions that write pggit's records are for pggit itself and its administrators only.
GRANT USAGE ON SCHEMA pggit TO PUBLIC;
REVOKE EXECUTE ON FUNCTION pggit.record_object(oid, oid, integer, text, text, boolean, text),
                           pggit.record_with_parts(oid, oid, text, text),
                           pggit.record_dependents(text[], text),
                           pggit.drop_columns_of(text),
                           pggit.record_tracking_error(text, text, text, text, text),
                           pggit.baseline(),
                           pggit.configure_tracking(text[], boolean, boolean, boolean),
                           pggit.track_all_schemas(),
                           pggit.track_ddl_commands(text),
                           pggit.track_dropped_objects(text)
    FROM PUBLIC;
