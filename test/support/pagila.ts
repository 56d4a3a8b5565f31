// Loads the shared Pagila sample database (../shared/fixtures/pagila), as it is, with psql.
import path from 'node:path';
import { execa } from 'execa';
import { pgBin, projectRoot } from '../../worker/tools.ts';

export const pagilaDir = path.resolve(projectRoot, '..', 'shared', 'fixtures', 'pagila');

export async function loadPagila(url: string, parts: Array<'schema' | 'data'> = ['schema', 'data']): Promise<void> {
  for (const part of parts) {
    await execa(pgBin('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', path.join(pagilaDir, `${part}.sql`)], {
      stdin: 'ignore',
    });
  }
}
