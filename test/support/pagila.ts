// Loads the shared Pagila sample database (../shared/fixtures/pagila), as it is, with psql.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { pgBin, projectRoot } from '../../worker/tools.ts';

/** ../shared beside the checkout (as CI lays it out), or PGGIT_OPS_SHARED_DIR. */
export const pagilaDir = path.join(process.env.PGGIT_OPS_SHARED_DIR ?? path.resolve(projectRoot, '..', 'shared'), 'fixtures', 'pagila');

export async function loadPagila(url: string, parts: Array<'schema' | 'data'> = ['schema', 'data']): Promise<void> {
  if (!existsSync(pagilaDir)) throw new Error(`Pagila fixture not found at ${pagilaDir}: shared/ must sit beside the checkout, or set PGGIT_OPS_SHARED_DIR`);
  for (const part of parts) {
    await execa(pgBin('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', path.join(pagilaDir, `${part}.sql`)], {
      stdin: 'ignore',
    });
  }
}
