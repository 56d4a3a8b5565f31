// Non-superuser roles for the least-privilege tests, made the way docs/least-privilege.md tells an
// operator to: scripts/worker-role.sql run by a superuser in the database, then a password.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { pgBin, projectRoot } from '../../worker/tools.ts';
import { urlOf, withPgClient, type PgConnection } from './postgres.ts';
import { rememberSecret } from './secrets.ts';

/**
 * Gives `role` (created when missing) the grants of scripts/worker-role.sql in `database` and a new
 * password, remembered so that the run fails if it ever reaches a workflow history. `admin` is a
 * superuser connection to the server. Returns how to connect to `database` as the role.
 */
export async function workerRole(admin: PgConnection, database: string, role: string): Promise<PgConnection> {
  const psql = await execa(pgBin('psql'), ['-X', '-q', '-v', `worker=${role}`, '-f', path.join(projectRoot, 'scripts/worker-role.sql'), urlOf(admin, database)], { reject: false });
  if (psql.exitCode !== 0) throw new Error(`scripts/worker-role.sql for ${role} in ${database} failed: ${psql.stderr}`);
  const password = randomBytes(12).toString('hex');
  rememberSecret(password);
  await withPgClient(admin, (c) => c.query(`ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD ${pg.escapeLiteral(password)}`));
  return { ...admin, database, user: role, password };
}
