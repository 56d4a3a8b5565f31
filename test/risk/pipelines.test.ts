// The generated pipelines: the GitHub workflow against the GitHub Actions workflow JSON schema
// (SchemaStore's, as @action-validator/core embeds it), the Jenkinsfile's declarative structure,
// and their shell steps run for real in a git repository with hostile file names, with `npx` and
// `psql` replaced by recorders, so what reaches `pggit-ops risk` is checked argument by argument.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { renderPipeline } from '../../cicd/pipelines.ts';
import { sqlFile, withGeneratedBlocks } from '../../risk/sql-blocks.ts';
import { checkDeclarativePipeline, JenkinsfileError } from '../support/jenkinsfile.ts';

const options = { migrationsDir: 'db/migrations', maxRisk: 40 };

describe('GitHub Actions workflow', () => {
  it('validates against the workflow schema', () => {
    expect(validateWorkflow(renderPipeline('github', options)).errors).toEqual([]);
  });

  it('the schema check can fail: a misspelt key is refused', () => {
    const broken = renderPipeline('github', options).replace('runs-on:', 'runs_on:');
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
  });

  it('starts PostgreSQL as a service, installs pggit, keeps the report, and has no expression inside a script', () => {
    const workflow = YAML.parse(renderPipeline('github', options));
    const job = workflow.jobs['migration-risk'];
    expect(job.services.postgres.image).toBe('postgres:15');
    expect(job.env).toMatchObject({ MIGRATIONS_DIR: 'db/migrations', MAX_RISK: '40' });
    const runs: string[] = job.steps.flatMap((s: { run?: string }) => (s.run ? [s.run] : []));
    expect(runs).toContain('npx pggit-ops install --database-url "$DATABASE_URL"');
    // ${{ }} in a run: script is pasted into the shell before it runs: the injection the guide's workflow has.
    for (const run of runs) expect(run).not.toContain('${{');
    expect(job.steps.at(-1)).toMatchObject({ if: 'always()', uses: 'actions/upload-artifact@v4', with: { path: 'migration-risk.json' } });
  });
});

describe('Jenkinsfile', () => {
  it('is a well-formed declarative pipeline', () => {
    expect(() => checkDeclarativePipeline(renderPipeline('jenkins', options))).not.toThrow();
  });

  it('the structural check can fail', () => {
    const jenkinsfile = renderPipeline('jenkins', options);
    expect(() => checkDeclarativePipeline(jenkinsfile.replace('    post {', '    post '))).toThrow(JenkinsfileError);
    expect(() => checkDeclarativePipeline(jenkinsfile.replace("sh 'npm ci'", "sh 'npm ci"))).toThrow(/never closed/);
    expect(() => checkDeclarativePipeline(jenkinsfile.replace('steps {', 'step {'))).toThrow(/no steps/);
  });
});

describe('pipeline shell steps on a real repository', () => {
  const hostile = ['db/migrations/002 add "quoted" column.sql', "db/migrations/003_it's_ünïcode.sql", 'db/migrations/sub dir/004-$(touch pwned).sql'];

  async function repository(): Promise<{ repo: string; bin: string; base: string; head: string }> {
    const repo = mkdtempSync(path.join(tmpdir(), 'pggit-ops-pipeline-'));
    const git = (...args: string[]) => execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { cwd: repo });
    await git('init', '-q');
    mkdirSync(path.join(repo, 'db/migrations/sub dir'), { recursive: true });
    writeFileSync(path.join(repo, 'db/migrations/001_base.sql'), 'CREATE TABLE users (id bigint);\n');
    writeFileSync(path.join(repo, 'README.md'), 'not a migration\n');
    await git('add', '-A');
    await git('commit', '-q', '-m', 'base');
    const base = (await git('rev-parse', 'HEAD')).stdout;
    for (const name of hostile) writeFileSync(path.join(repo, name), 'SELECT 1;\n');
    writeFileSync(path.join(repo, 'db/migrations/notes.txt'), 'not SQL\n');
    await git('add', '-A');
    // The commit message is not what gets scored (the guide's workflow scores it).
    await git('commit', '-q', '-m', "'; DROP TABLE users; --");
    const head = (await git('rev-parse', 'HEAD')).stdout;
    // Recorders for npx and psql: each call's arguments, NUL-separated, one file per call.
    const bin = path.join(repo, '.bin');
    mkdirSync(bin);
    for (const tool of ['npx', 'psql']) {
      writeFileSync(path.join(bin, tool), `#!/bin/bash\nprintf '%s\\0' "$@" > "$RECORD_DIR/${tool}.$RANDOM$RANDOM"\n`);
      chmodSync(path.join(bin, tool), 0o755);
    }
    return { repo, bin, base, head };
  }

  const recorded = (dir: string, tool: string) =>
    readdirSync(dir).filter((f) => f.startsWith(`${tool}.`)).map((f) => readFileSync(path.join(dir, f), 'utf8').split('\0').slice(0, -1));

  it('loads the base commit\'s migrations, then passes exactly the changed .sql files, intact, as arguments', async () => {
    const { repo, bin, base, head } = await repository();
    const records = mkdtempSync(path.join(tmpdir(), 'pggit-ops-records-'));
    const steps: Array<{ name?: string; run?: string }> = YAML.parse(renderPipeline('github', options)).jobs['migration-risk'].steps;
    const env = { PATH: `${bin}:${process.env.PATH}`, RECORD_DIR: records, MIGRATIONS_DIR: 'db/migrations', MAX_RISK: '40', DATABASE_URL: 'postgresql://ci', BASE_SHA: base, HEAD_SHA: head };
    for (const name of ["Load the schema from the base commit's migrations", 'Assess the changed migrations']) {
      const run = steps.find((s) => s.name === name)!.run!;
      const result = await execa('bash', ['-c', run], { cwd: repo, env, reject: false });
      expect(result.exitCode, `${name}: ${result.stderr}`).toBe(0);
    }

    expect(recorded(records, 'psql')).toEqual([['postgresql://ci', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', '.pggit-base/000001.sql']]);
    expect(readFileSync(path.join(repo, '.pggit-base/000001.sql'), 'utf8')).toBe('CREATE TABLE users (id bigint);\n');
    const [npx, ...more] = recorded(records, 'npx');
    expect(more).toEqual([]);
    expect(npx!.slice(0, 9)).toEqual(['pggit-ops', 'risk', '--max-risk', '40', '--database-url', 'postgresql://ci', '--report', 'migration-risk.json', '--']);
    expect(npx!.slice(9).sort()).toEqual([...hostile].sort());
    expect(readdirSync(repo)).not.toContain('pwned');
  });

  it('with no changed migration writes an empty report and passes', async () => {
    const { repo, bin, head } = await repository();
    const records = mkdtempSync(path.join(tmpdir(), 'pggit-ops-records-'));
    const steps: Array<{ name?: string; run?: string }> = YAML.parse(renderPipeline('github', options)).jobs['migration-risk'].steps;
    const run = steps.find((s) => s.name === 'Assess the changed migrations')!.run!;
    const env = { PATH: `${bin}:${process.env.PATH}`, RECORD_DIR: records, MIGRATIONS_DIR: 'db/migrations', MAX_RISK: '40', DATABASE_URL: 'postgresql://ci', BASE_SHA: head, HEAD_SHA: head };
    const result = await execa('bash', ['-c', run], { cwd: repo, env, reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('no migration files changed under db/migrations');
    expect(readFileSync(path.join(repo, 'migration-risk.json'), 'utf8')).toBe('[]\n');
    expect(recorded(records, 'npx')).toEqual([]);
  });
});

describe('sql/009', () => {
  it('holds the generated blocks the TypeScript sources give (npm run risk:sql)', () => {
    const text = readFileSync(sqlFile, 'utf8');
    expect(text).toBe(withGeneratedBlocks(text));
  });
});
