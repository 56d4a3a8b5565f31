// Quarterly "security assessment": the server's authentication and the database's privilege
// hygiene, each finding with the setting, line or object that causes it.
import pg from 'pg';
import { z } from 'zod';
import { defineCheck, type Finding } from '../define.ts';
import { problemCount } from '../shared.ts';
import { isUserSchema } from '../monthly/permissions-review.ts';

/** A row of pg_hba_file_rules (PostgreSQL 15). */
export interface HbaRule {
  line_number: number;
  type: string | null;
  database: string[] | null;
  user_name: string[] | null;
  address: string | null;
  netmask: string | null;
  auth_method: string | null;
  error: string | null;
}

const loopback = /^(127\.|::1$|localhost$|samehost$)/;

/**
 * What is wrong with one pg_hba.conf line: `trust` (no password at all; critical when reachable
 * from beyond this machine), `password` (the password crosses the wire in clear text unless the
 * line is hostssl), `md5` (weaker than SCRAM), any-address lines that let every host try, and
 * lines the server could not parse.
 */
export function classifyHbaRule(rule: HbaRule): Finding[] {
  const where = `pg_hba.conf line ${rule.line_number}`;
  const details = { ...rule };
  if (rule.error !== null) {
    return [{ code: 'hba_line_error', severity: 'warning', message: `${where} is invalid: ${rule.error}`, details }];
  }
  const findings: Finding[] = [];
  const remote = rule.type !== 'local' && !(rule.address !== null && loopback.test(rule.address));
  const anyAddress = rule.address === 'all' || rule.netmask === '0.0.0.0' || rule.netmask === '::';
  switch (rule.auth_method) {
    case 'trust':
      findings.push({
        code: 'hba_trust',
        severity: remote ? 'critical' : 'warning',
        message: `${where} (${rule.type} ${rule.address ?? ''}) uses trust: anyone who can ${remote ? 'reach the server' : 'log in to this machine'} connects as any role it names, without a password`,
        details,
      });
      break;
    case 'password':
      findings.push({
        code: 'hba_cleartext_password',
        severity: rule.type === 'hostssl' ? 'info' : 'warning',
        message: `${where} uses password: the password is sent in clear text${rule.type === 'hostssl' ? ' (inside TLS here)' : ''}; use scram-sha-256`,
        details,
      });
      break;
    case 'md5':
      findings.push({ code: 'hba_md5', severity: 'info', message: `${where} uses md5, which is weaker than scram-sha-256 (and deprecated since PostgreSQL 18)`, details });
      break;
  }
  if (anyAddress && rule.auth_method !== 'reject') {
    findings.push({
      code: 'hba_any_address',
      severity: 'warning',
      message: `${where} accepts connections from any address (${rule.address === 'all' ? 'all' : `${rule.address}/${rule.netmask}`}): restrict it to the networks clients use`,
      details,
    });
  }
  return findings;
}

function isLocalOnly(listenAddresses: string): boolean {
  return listenAddresses.split(',').every((a) => a.trim() === '' || /^(localhost|127\.0\.0\.1|::1)$/.test(a.trim()));
}

/** pg_hba.conf as the server parses it; only superusers may read it, and a report must say when it could not. */
async function readHbaRules(db: pg.Client): Promise<{ readable: boolean; rules: HbaRule[]; error?: string }> {
  try {
    const { rows } = await db.query<HbaRule>(
      `SELECT line_number, type, database, user_name, address, netmask, auth_method, error FROM pg_hba_file_rules ORDER BY line_number`,
    );
    return { readable: true, rules: rows };
  } catch (err) {
    if (err instanceof pg.DatabaseError && err.code === '42501') return { readable: false, rules: [], error: err.message };
    throw err;
  }
}

export const securityAssessment = defineCheck({
  name: 'securityAssessment',
  description: 'password encryption, TLS, pg_hba.conf rules, superusers, PUBLIC CREATE on schemas, SECURITY DEFINER functions without a fixed search_path',
  kind: 'check',
  args: z
    .object({
      /** More superusers than this is a finding (the bootstrap superuser counts). */
      max_superusers: z.number().int().min(1).default(1),
    })
    .strict(),
  async run(ctx, args) {
    const findings: Finding[] = [];
    const { rows: settingRows } = await ctx.db.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('password_encryption', 'ssl', 'listen_addresses')`,
    );
    const settings = Object.fromEntries(settingRows.map((r) => [r.name, r.setting]));
    if (settings.password_encryption !== 'scram-sha-256') {
      findings.push({
        code: 'password_encryption',
        severity: 'warning',
        message: `password_encryption is ${settings.password_encryption}: new passwords are stored as md5 hashes; set it to scram-sha-256 and have roles reset their passwords`,
        details: { setting: 'password_encryption', current: settings.password_encryption, expected: 'scram-sha-256' },
      });
    }
    if (settings.ssl !== 'on') {
      const localOnly = isLocalOnly(settings.listen_addresses ?? '');
      findings.push({
        code: 'ssl_off',
        severity: localOnly ? 'info' : 'warning',
        message: localOnly
          ? `ssl is off; the server listens on ${settings.listen_addresses || 'Unix sockets'} only, so nothing crosses a network`
          : `ssl is off while the server listens on ${settings.listen_addresses}: passwords (except under SCRAM) and data cross the network unencrypted`,
        details: { setting: 'ssl', current: settings.ssl, listen_addresses: settings.listen_addresses },
      });
    }

    const hba = await readHbaRules(ctx.db);
    if (hba.readable) {
      for (const rule of hba.rules) findings.push(...classifyHbaRule(rule));
    } else {
      findings.push({
        code: 'hba_unreadable',
        severity: 'info',
        message: `pg_hba.conf rules were not assessed: pg_hba_file_rules is readable by superusers only (${hba.error})`,
      });
    }

    const { rows: superusers } = await ctx.db.query<{ role: string; login: boolean }>(
      `SELECT rolname::text AS role, rolcanlogin AS login FROM pg_roles WHERE rolsuper ORDER BY rolname`,
    );
    if (superusers.length > args.max_superusers) {
      findings.push({
        code: 'too_many_superusers',
        severity: 'warning',
        message: `${superusers.length} superusers (${superusers.map((s) => s.role).join(', ')}), more than ${args.max_superusers}: a superuser bypasses every privilege check; give roles only what they need`,
        details: { superusers, max: args.max_superusers },
      });
    }

    const { rows: publicCreate } = await ctx.db.query<{ schema: string }>(`
      SELECT format('%I', n.nspname) AS schema
        FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
       WHERE ${isUserSchema('n.nspname')} AND a.grantee = 0 AND a.privilege_type = 'CREATE'
       ORDER BY 1`);
    for (const { schema } of publicCreate) {
      findings.push({
        code: 'public_create_on_schema',
        severity: 'warning',
        message: `PUBLIC may CREATE in schema ${schema}: any role can plant objects that shadow others' on a search_path (REVOKE CREATE ON SCHEMA ${schema} FROM PUBLIC)`,
        details: { schema },
      });
    }

    // Extension members are left out: they are the extension's code, fixed by updating it.
    const { rows: definers } = await ctx.db.query<{ function: string; owner: string; owner_is_superuser: boolean }>(`
      SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS function,
             r.rolname::text AS owner, r.rolsuper AS owner_is_superuser
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_roles r ON r.oid = p.proowner
       WHERE p.prosecdef AND ${isUserSchema('n.nspname')}
         AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
       ORDER BY 1`);
    for (const d of definers) {
      findings.push({
        code: 'security_definer_search_path',
        severity: 'warning',
        message: `SECURITY DEFINER function ${d.function} (runs as ${d.owner}${d.owner_is_superuser ? ', a superuser' : ''}) has no fixed search_path: a caller's objects can be run with its owner's rights (ALTER FUNCTION ${d.function} SET search_path = pg_catalog, ...)`,
        details: d,
      });
    }

    return {
      summary: `${problemCount(findings)}: password_encryption ${settings.password_encryption}, ssl ${settings.ssl}, ${hba.readable ? `${hba.rules.length} hba rules` : 'hba rules not readable'}, ${superusers.length} superuser(s), ${definers.length} SECURITY DEFINER function(s) without search_path`,
      findings,
      data: { settings, hba, superusers, publicCreate: publicCreate.map((p) => p.schema), securityDefinerWithoutSearchPath: definers },
    };
  },
});
