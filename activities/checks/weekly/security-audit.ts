// Weekly: "Review security audit logs". pggit.history cannot serve as the audit log for
// permissions: GRANT and REVOKE reach event triggers without an object address, so pggit records
// nothing for them, ALTER ... OWNER TO changes no definition, and CREATE/ALTER ROLE are
// cluster-wide statements that fire no event trigger at all. So this step reports what the
// catalogs show: role attributes, PUBLIC's privileges, and grants that appeared since the previous
// run, found by comparing a snapshot of every explicit privilege with the one the previous run kept.
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { capped, previousSnapshot, problemCount, saveSnapshot } from '../shared.ts';

const args = z
  .object({
    /** Roles whose superuser status, powerful attributes or non-expiring password are known and accepted: reported as info. */
    accepted_roles: z.array(z.string()).default([]),
    /** Objects or roles named per finding (all are counted). */
    max_listed: z.number().int().positive().default(50),
  })
  .strict();

interface Role {
  oid: number;
  name: string;
  superuser: boolean;
  can_login: boolean;
  create_role: boolean;
  bypass_rls: boolean;
  replication: boolean;
  /** null: the password never expires. */
  valid_until: Date | null;
  /** null when pg_authid (where passwords live) is not readable to this role. */
  password_set: boolean | null;
}

interface Grant {
  object_type: string;
  object: string;
  grantee: string;
  privilege: string;
  grantable: boolean;
}

// Privileges beyond what an object has anyway: its owner's own rights and the built-in defaults
// (acldefault: EXECUTE on functions and USAGE on types for PUBLIC, ...) are left out, so creating
// an object is not mistaken for granting something. Role memberships are privileges too.
const grantsSql = `
WITH objects AS (
    SELECT 'pg_class'::regclass AS classid, c.oid AS objid, 0 AS objsubid, c.relnamespace AS nsp, c.relowner AS owner, c.relacl AS acl,
           acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner) AS defaults
      FROM pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relacl IS NOT NULL
    UNION ALL
    SELECT 'pg_class'::regclass, a.attrelid, a.attnum, c.relnamespace, c.relowner, a.attacl, NULL
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE a.attacl IS NOT NULL AND a.attnum > 0
    UNION ALL
    SELECT 'pg_namespace'::regclass, n.oid, 0, n.oid, n.nspowner, n.nspacl, acldefault('n', n.nspowner)
      FROM pg_namespace n WHERE n.nspacl IS NOT NULL
    UNION ALL
    SELECT 'pg_proc'::regclass, p.oid, 0, p.pronamespace, p.proowner, p.proacl, acldefault('f', p.proowner)
      FROM pg_proc p WHERE p.proacl IS NOT NULL
    UNION ALL
    SELECT 'pg_default_acl'::regclass, d.oid, 0, nullif(d.defaclnamespace, 0), d.defaclrole, d.defaclacl, NULL
      FROM pg_default_acl d
    UNION ALL
    SELECT 'pg_database'::regclass, d.oid, 0, NULL, d.datdba, d.datacl, acldefault('d', d.datdba)
      FROM pg_database d WHERE d.datname = current_database() AND d.datacl IS NOT NULL
), explicit AS (
    SELECT o.classid, o.objid, o.objsubid, x.grantee, x.privilege_type, x.is_grantable
      FROM objects o CROSS JOIN LATERAL aclexplode(o.acl) x
      LEFT JOIN pg_namespace n ON n.oid = o.nsp
     WHERE x.grantee <> o.owner
       AND (n.nspname IS NULL OR (n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'))
       AND NOT EXISTS (SELECT 1 FROM aclexplode(o.defaults) d
                        WHERE d.grantee = x.grantee AND d.privilege_type = x.privilege_type AND d.is_grantable = x.is_grantable)
)
SELECT i.type AS object_type, i.identity AS object,
       CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(e.grantee)::text END AS grantee,
       e.privilege_type AS privilege, e.is_grantable AS grantable
  FROM explicit e CROSS JOIN LATERAL pg_identify_object(e.classid, e.objid, e.objsubid) i
UNION ALL
SELECT 'role', quote_ident(r.rolname), m.rolname::text, 'MEMBER', a.admin_option
  FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
ORDER BY 1, 2, 3, 4`;

const keyOf = (g: Grant) => JSON.stringify([g.object_type, g.object, g.grantee, g.privilege, g.grantable]);
const describeGrant = (g: Grant) =>
  `${g.privilege} on ${g.object_type === 'default acl' ? `new objects (default privileges ${g.object})` : `${g.object_type} ${g.object}`}` +
  (g.grantable ? ' WITH GRANT OPTION' : '');
const isTable = (g: Grant) => /^(table|view|materialized view|foreign table|sequence|table column)$/.test(g.object_type);

/** One finding per grantee, listing what it was granted. */
function byGrantee(grants: Grant[], max: number): Map<string, { items: string[]; omitted: number }> {
  const groups = new Map<string, string[]>();
  for (const g of grants) groups.set(g.grantee, [...(groups.get(g.grantee) ?? []), describeGrant(g)]);
  return new Map([...groups].map(([grantee, list]) => [grantee, capped(list, max)]));
}

export const securityAudit = defineCheck({
  name: 'securityAudit',
  description: "Roles, PUBLIC's privileges and grants since the previous run, from the catalogs; and whether logins are logged",
  kind: 'check',
  args,
  async run(ctx, { accepted_roles, max_listed }) {
    const accepted = new Set(accepted_roles);
    const { readable } = (
      await ctx.db.query<{ readable: boolean }>(`SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS readable`)
    ).rows[0]!;
    // Predefined roles (pg_*) cannot log in and are the server's own; the bootstrap superuser (oid 10) is kept.
    const roles = (
      await ctx.db.query<Role>(
        `SELECT r.oid::int8::float8 AS oid, r.rolname::text AS name, r.rolsuper AS superuser, r.rolcanlogin AS can_login,
                r.rolcreaterole AS create_role, r.rolbypassrls AS bypass_rls, r.rolreplication AS replication,
                nullif(r.rolvaliduntil, 'infinity') AS valid_until, ${readable ? 'r.rolpassword IS NOT NULL' : 'NULL::boolean'} AS password_set
           FROM ${readable ? 'pg_catalog.pg_authid' : 'pg_catalog.pg_roles'} r
          WHERE r.oid = 10 OR r.rolname !~ '^pg_'
          ORDER BY r.rolname`,
      )
    ).rows;

    const findings: Finding[] = [];
    const judged = (role: Role, severity: 'warning' | 'critical') => (accepted.has(role.name) ? 'info' : severity);
    const bootstrap = (role: Role) => role.oid === 10;
    for (const role of roles) {
      const evidence = { role: role.name, can_login: role.can_login, valid_until: role.valid_until?.toISOString() ?? null, accepted: accepted.has(role.name) };
      if (role.superuser && !bootstrap(role)) {
        findings.push({
          code: 'superuser_role',
          severity: judged(role, role.can_login ? 'critical' : 'warning'),
          message: `${role.name} is a superuser${role.can_login ? ' and can log in' : ' (cannot log in, but any member can SET ROLE to it)'}`,
          details: evidence,
        });
      }
      const powers = [
        ...(role.create_role ? ['CREATEROLE'] : []),
        ...(role.bypass_rls ? ['BYPASSRLS'] : []),
        ...(role.replication ? ['REPLICATION'] : []),
      ];
      if (!role.superuser && powers.length > 0) {
        findings.push({
          code: 'powerful_role',
          severity: judged(role, 'warning'),
          message: `${role.name} has ${powers.join(', ')}`,
          details: { ...evidence, attributes: powers },
        });
      }
      if (role.can_login && role.password_set && role.valid_until === null) {
        findings.push({
          code: 'password_never_expires',
          severity: bootstrap(role) ? 'info' : judged(role, 'warning'),
          message: `${role.name} can log in with a password that never expires (no VALID UNTIL)${bootstrap(role) ? '; it is the bootstrap superuser' : ''}`,
          details: { ...evidence, bootstrap_superuser: bootstrap(role) },
        });
      }
    }
    if (!readable) {
      const unexpiring = roles.filter((r) => r.can_login && r.valid_until === null);
      findings.push({
        code: 'password_check_unavailable',
        severity: 'info',
        message: `pg_authid is readable only by superusers: whether these ${unexpiring.length} login roles without VALID UNTIL have a password was not checked`,
        details: { roles: capped(unexpiring.map((r) => r.name), max_listed) },
      });
    }

    const grants = (await ctx.db.query<Grant>(grantsSql)).rows;
    for (const g of grants.filter((x) => x.grantee === 'PUBLIC' && x.object_type === 'schema' && x.privilege === 'CREATE')) {
      findings.push({
        code: 'public_schema_create',
        severity: 'warning',
        message: `Every role (PUBLIC) may create objects in schema ${g.object}: objects there can capture other roles' unqualified names; REVOKE CREATE ON SCHEMA ${g.object} FROM PUBLIC`,
        details: { schema: g.object, grantee: 'PUBLIC', privilege: 'CREATE' },
      });
    }
    const publicTables = grants.filter((g) => g.grantee === 'PUBLIC' && isTable(g));
    if (publicTables.length > 0) {
      findings.push({
        code: 'public_table_access',
        severity: 'warning',
        message: `Every role (PUBLIC) has ${publicTables.length} privileges on tables: ${publicTables.slice(0, 3).map(describeGrant).join('; ')}${publicTables.length > 3 ? '; ...' : ''}`,
        details: { grants: capped(publicTables.map(describeGrant), max_listed) },
      });
    }

    const { database } = (await ctx.db.query<{ database: string }>(`SELECT current_database() AS database`)).rows[0]!;
    const previous = await previousSnapshot(ctx, 'privileges', database);
    await saveSnapshot(ctx, 'privileges', [{ name: database, metrics: { grants } }]);
    const before = previous?.rows.get(database)?.grants as Grant[] | undefined;
    let added: Grant[] = [];
    if (!previous || !before) {
      findings.push({
        code: 'privileges_baseline',
        severity: 'info',
        message: `Recorded ${grants.length} explicit privileges and memberships; new grants are reported from the next run`,
        details: { grants: grants.length },
      });
    } else {
      const known = new Set(before.map(keyOf));
      const current = new Set(grants.map(keyOf));
      added = grants.filter((g) => !known.has(keyOf(g)));
      const removed = before.filter((g) => !current.has(keyOf(g)));
      for (const [grantee, list] of byGrantee(added, max_listed)) {
        findings.push({
          code: 'new_grant',
          severity: 'warning',
          message: `${grantee} was granted ${list.items.length + list.omitted} privileges since ${previous.takenAt.toISOString()}: ${list.items.slice(0, 3).join('; ')}${list.items.length + list.omitted > 3 ? '; ...' : ''}`,
          details: { grantee, granted: list.items, omitted: list.omitted, previous_run: previous.runId, previous_at: previous.takenAt.toISOString() },
        });
      }
      if (removed.length > 0) {
        findings.push({
          code: 'grants_revoked',
          severity: 'info',
          message: `${removed.length} privileges or memberships were revoked since ${previous.takenAt.toISOString()}`,
          details: { revoked: capped(removed.map((g) => `${describeGrant(g)} from ${g.grantee}`), max_listed), previous_run: previous.runId },
        });
      }
    }

    findings.push({
      code: 'privilege_changes_not_in_history',
      severity: 'info',
      message:
        'pggit.history records no GRANT, REVOKE, ALTER ... OWNER TO or role change (roles are cluster-wide and fire no event trigger): privilege changes above come from comparing catalog snapshots, without who or when',
    });

    const logging = Object.fromEntries(
      (
        await ctx.db.query<{ name: string; setting: string }>(
          `SELECT name, setting FROM pg_settings
            WHERE name IN ('log_connections', 'log_disconnections', 'log_statement', 'log_min_messages', 'logging_collector', 'log_destination')
            ORDER BY name`,
        )
      ).rows.map((r) => [r.name, r.setting]),
    );
    const is = (on: boolean) => (on ? 'are' : 'are not');
    findings.push({
      code: 'log_settings',
      severity: 'info',
      message:
        `Failed logins ${is(logging.log_min_messages !== 'panic')} logged (as FATAL; log_min_messages = ${logging.log_min_messages}), ` +
        `successful connections ${is(logging.log_connections === 'on')} (log_connections), ` +
        `disconnections ${is(logging.log_disconnections === 'on')} (log_disconnections); log_statement is ${logging.log_statement}`,
      details: logging,
    });

    return {
      summary: `${roles.length} roles, ${grants.length} explicit privileges, ${added.length} new since the previous run: ${problemCount(findings)}`,
      findings,
      data: {
        roles: roles.map(({ name, superuser, can_login }) => ({ name, superuser, can_login })),
        pg_authid_readable: readable,
        privileges: grants.length,
        new_grants: added.length,
        logging,
      },
    };
  },
});
