// Monthly "review user permissions": a report of who can do what, for a person to read and sign
// off (the runbook follows this step with a sign-off). Findings only flag what is wrong on its face:
// anyone but pggit's owner able to write pggit's records, and PUBLIC holding more than PostgreSQL
// gives it by default.
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { capped } from '../shared.ts';

/** SQL condition: `column` names a schema people create objects in, not one of PostgreSQL's own. */
export function isUserSchema(column: string): string {
  return `(${column} NOT IN ('pg_catalog', 'information_schema') AND ${column} !~ '^pg_(toast|temp_|toast_temp_)')`;
}

interface RoleRow {
  role: string;
  superuser: boolean;
  createrole: boolean;
  createdb: boolean;
  login: boolean;
  replication: boolean;
  bypassrls: boolean;
  inherit: boolean;
  connection_limit: number;
  valid_until: string | null;
  member_of: string[];
}

interface PrivilegeRow {
  kind: string;
  name: string;
  grantee: string;
  by_owner: boolean;
  privilege: string;
  grantable: boolean;
  public_beyond_default: boolean;
}

interface Grants {
  /** Objects the role owns, by kind: the owner holds every privilege on them implicitly. */
  owns: Record<string, number>;
  /** Privileges granted on objects the role does not own, grouped by kind and privilege set. */
  grants: Array<{ on: string; privileges: string[]; objects: string[] }>;
}

// Owned objects' ACL entries are collapsed into counts, other grants into groups of objects with
// the same privilege set: a database with hundreds of tables still reads in a screen.
function aggregate(rows: PrivilegeRow[]): Record<string, Grants> {
  const byGrantee: Record<string, Grants> = {};
  const perObject = new Map<string, { grantee: string; kind: string; name: string; owned: boolean; privileges: string[] }>();
  for (const row of rows) {
    const key = `${row.grantee}\0${row.kind}\0${row.name}`;
    const object = perObject.get(key) ?? { grantee: row.grantee, kind: row.kind, name: row.name, owned: row.by_owner, privileges: [] };
    object.privileges.push(row.grantable ? `${row.privilege} WITH GRANT OPTION` : row.privilege);
    perObject.set(key, object);
  }
  for (const object of perObject.values()) {
    const entry = (byGrantee[object.grantee] ??= { owns: {}, grants: [] });
    if (object.owned) {
      entry.owns[object.kind] = (entry.owns[object.kind] ?? 0) + 1;
      continue;
    }
    const privileges = object.privileges.sort();
    const group = entry.grants.find((g) => g.on === object.kind && g.privileges.join() === privileges.join());
    if (group) group.objects.push(object.name);
    else entry.grants.push({ on: object.kind, privileges, objects: [object.name] });
  }
  return byGrantee;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

export const permissionsReview = defineCheck({
  name: 'permissionsReview',
  description: 'reports every role\'s attributes, memberships and privileges on user schemas, tables and functions, for sign-off',
  kind: 'check',
  args: z.object({}).strict(),
  async run(ctx) {
    const { rows: roles } = await ctx.db.query<RoleRow>(`
      SELECT r.rolname AS role, r.rolsuper AS superuser, r.rolcreaterole AS createrole, r.rolcreatedb AS createdb,
             r.rolcanlogin AS login, r.rolreplication AS replication, r.rolbypassrls AS bypassrls, r.rolinherit AS inherit,
             r.rolconnlimit AS connection_limit, r.rolvaliduntil::text AS valid_until,
             ARRAY(SELECT g.rolname || CASE WHEN m.admin_option THEN ' WITH ADMIN OPTION' ELSE '' END
                     FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                    WHERE m.member = r.oid ORDER BY 1)::text[] AS member_of
        FROM pg_roles r
       WHERE r.rolname !~ '^pg_'
       ORDER BY r.rolname`);

    // A NULL ACL means the defaults (acldefault), which are privileges too: functions are
    // executable by PUBLIC unless revoked. PostgreSQL 15 itself gives PUBLIC USAGE on schema
    // public, and pggit gives it USAGE on schema pggit (every role's DDL calls into it).
    const { rows: privileges } = await ctx.db.query<PrivilegeRow>(`
      WITH objects AS (
          SELECT 'schema' AS kind, n.nspname::text AS schema, format('%I', n.nspname) AS name, n.nspowner AS owner,
                 n.nspacl AS acl, 'n'::"char" AS acltype
            FROM pg_namespace n
           WHERE ${isUserSchema('n.nspname')}
          UNION ALL
          SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                WHEN 'f' THEN 'foreign table' ELSE 'table' END,
                 n.nspname, format('%I.%I', n.nspname, c.relname), c.relowner,
                 c.relacl, CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char"
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${isUserSchema('n.nspname')}
          UNION ALL
          SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
                 n.nspname, format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), p.proowner,
                 p.proacl, 'f'::"char"
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE ${isUserSchema('n.nspname')}
      )
      SELECT o.kind, o.name, a.grantee = o.owner AS by_owner,
             CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END AS grantee,
             a.privilege_type AS privilege, a.is_grantable AS grantable,
             a.grantee = 0
               AND NOT EXISTS (SELECT 1 FROM aclexplode(acldefault(o.acltype, o.owner)) d
                                WHERE d.grantee = 0 AND d.privilege_type = a.privilege_type)
               AND NOT (o.kind = 'schema' AND o.schema IN ('public', 'pggit') AND a.privilege_type = 'USAGE') AS public_beyond_default
        FROM objects o
        CROSS JOIN LATERAL aclexplode(coalesce(o.acl, acldefault(o.acltype, o.owner))) a
       ORDER BY grantee, o.kind, o.name, a.privilege_type`);

    // Effective rights (direct, through role membership, column grants, pg_write_all_data), not
    // only the ACL entries: what matters is who can change pggit's records. Superusers can do
    // anything and are listed as such; members of the owning role act as the owner.
    const { rows: writers } = await ctx.db.query<{ role: string; table: string; owner: string; privileges: string[] }>(`
      SELECT r.rolname::text AS role, format('%I.%I', n.nspname, c.relname) AS "table", pg_get_userbyid(c.relowner)::text AS owner,
             array_agg(p.privilege ORDER BY p.privilege) AS privileges
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN pg_roles r
        CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(privilege)
       WHERE n.nspname = 'pggit' AND c.relkind IN ('r', 'p')
         AND NOT r.rolsuper AND r.rolname !~ '^pg_'
         AND NOT pg_has_role(r.oid, c.relowner, 'USAGE')
         AND CASE WHEN p.privilege IN ('INSERT', 'UPDATE') THEN has_any_column_privilege(r.oid, c.oid, p.privilege)
                  ELSE has_table_privilege(r.oid, c.oid, p.privilege) END
       GROUP BY r.rolname, n.nspname, c.relname, c.relowner
       ORDER BY 1, 2`);

    const findings: Finding[] = [];
    const writersByRole = groupBy(writers, (w) => w.role);
    for (const [role, tables] of writersByRole) {
      findings.push({
        code: 'pggit_write_privilege',
        severity: 'warning',
        message: `role ${role} can change pggit's records (${tables.map((t) => `${t.privileges.join(', ')} on ${t.table}`).join('; ')}); only pggit's owner and its tracking functions should write them`,
        details: { role, tables },
      });
    }
    const publicExtra = privileges.filter((p) => p.public_beyond_default);
    if (publicExtra.length > 0) {
      const objects = [...groupBy(publicExtra, (p) => `${p.kind} ${p.name}`)].map(([object, rows]) => ({ object, privileges: rows.map((r) => r.privilege) }));
      const shown = capped(objects, 10);
      findings.push({
        code: 'public_privileges',
        severity: 'warning',
        message: `PUBLIC (every role, present and future) has privileges beyond PostgreSQL's defaults on ${objects.length} object(s): ${shown.items
          .map((o) => `${o.privileges.join(', ')} on ${o.object}`)
          .join('; ')}${shown.omitted ? ` and ${shown.omitted} more` : ''}`,
        details: { objects },
      });
    }

    const grantsByRole = aggregate(privileges);
    const superusers = roles.filter((r) => r.superuser).map((r) => r.role);
    const logins = roles.filter((r) => r.login).length;
    return {
      summary: `${roles.length} role(s) (${logins} can log in, ${superusers.length} superuser${superusers.length === 1 ? '' : 's'}); ${writersByRole.size} non-owner role(s) can write pggit's records; PUBLIC beyond defaults on ${new Set(publicExtra.map((p) => p.name)).size} object(s); needs a person's sign-off`,
      findings,
      data: {
        roles: roles.map((r) => ({ ...r, ...(grantsByRole[r.role] ?? { owns: {}, grants: [] }) })),
        // Grantees that are not listed roles: PUBLIC and PostgreSQL's predefined pg_* roles.
        otherGrantees: Object.fromEntries(Object.entries(grantsByRole).filter(([grantee]) => !roles.some((r) => r.role === grantee))),
        superusers,
        pggitWriters: writers,
      },
    };
  },
});
