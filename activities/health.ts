// Facts about a target database, read from the server itself.
import type pg from 'pg';

export interface TargetFacts {
  target: string;
  database: string;
  serverVersion: string;
  serverVersionNum: number;
  databaseSizeBytes: number;
  /** The `pggit` schema exists in the database. */
  pggitInstalled: boolean;
  /** pggit's event triggers (DDL tracking) and whether each is enabled. */
  pggitEventTriggers: Array<{ name: string; event: string; enabled: boolean }>;
  /** pg_stat_user_functions stays empty unless this is 'pl' or 'all'. */
  trackFunctions: string;
}

export async function readTargetFacts(client: pg.ClientBase, target: string): Promise<TargetFacts> {
  const { rows } = await client.query<{
    database: string;
    server_version: string;
    server_version_num: string;
    size: string;
    pggit: boolean;
    track_functions: string;
  }>(`SELECT current_database() AS database,
             current_setting('server_version') AS server_version,
             current_setting('server_version_num') AS server_version_num,
             pg_database_size(current_database())::text AS size,
             to_regnamespace('pggit') IS NOT NULL AS pggit,
             current_setting('track_functions') AS track_functions`);
  const row = rows[0]!;
  const triggers = await client.query<{ name: string; event: string; enabled: boolean }>(
    `SELECT evtname AS name, evtevent AS event, evtenabled <> 'D' AS enabled
       FROM pg_event_trigger WHERE evtname LIKE 'pggit%' ORDER BY evtname`,
  );
  return {
    target,
    database: row.database,
    serverVersion: row.server_version,
    serverVersionNum: Number(row.server_version_num),
    databaseSizeBytes: Number(row.size),
    pggitInstalled: row.pggit,
    pggitEventTriggers: triggers.rows,
    trackFunctions: row.track_functions,
  };
}
