// Installs pggit (every sql/ migration, through the product's own runner) into a test database.
import pg from 'pg';
import { applyMigrations } from '../../activities/migrations.ts';
import type { PgConnection } from './postgres.ts';

export async function installPggit(connection: PgConnection): Promise<void> {
  const client = new pg.Client(connection);
  await client.connect();
  try {
    await applyMigrations(client);
  } finally {
    await client.end();
  }
}
