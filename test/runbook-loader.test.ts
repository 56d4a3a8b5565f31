// The runbook loader on its own: no database, no Temporal. The registry is a fake with the shipped
// runbooks' check names; two of its checks have strict args to exercise arg validation.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { loadRunbook, parseRunbook, RunbookError, validateRunbookFiles, type CheckShape, type RunbookOptions } from '../runbooks/loader.ts';
import { runbookJsonSchemaText, type ResolvedActivityStep, type ResolvedSignOffStep } from '../runbooks/schema.ts';
import { loadConfig } from '../worker/config.ts';

const runbooksDir = fileURLToPath(new URL('../runbooks/', import.meta.url));
const shipped = ['daily', 'weekly', 'monthly', 'quarterly'] as const;

const anyArgs = z.looseObject({});
const checks: CheckShape[] = [
  { name: 'performanceAlerts', kind: 'check', args: anyArgs },
  { name: 'recentMigrations', kind: 'check', args: anyArgs },
  { name: 'storageGrowth', kind: 'check', args: anyArgs },
  { name: 'backupStatus', kind: 'check', args: z.object({ max_age_hours: z.number().positive() }).strict() },
  { name: 'performanceTrends', kind: 'check', args: anyArgs },
  { name: 'securityAudit', kind: 'check', args: anyArgs },
  { name: 'schemaDrift', kind: 'check', args: anyArgs },
  { name: 'capacityProjection', kind: 'check', args: anyArgs },
  { name: 'cleanHistory', kind: 'job', args: z.object({ retention_days: z.number().int().min(1).optional(), label: z.string().optional() }).strict() },
  { name: 'rebuildIndexes', kind: 'job', args: anyArgs },
  { name: 'permissionsReview', kind: 'check', args: anyArgs },
  { name: 'restoreDrill', kind: 'job', args: anyArgs },
  { name: 'tuningReview', kind: 'check', args: anyArgs },
  { name: 'securityAssessment', kind: 'check', args: anyArgs },
  { name: 'complianceAudit', kind: 'check', args: anyArgs },
  { name: 'techStack', kind: 'check', args: anyArgs },
];

/** The people section runbooks/README.md documents, read through the real config loader. */
function samplePeople(): RunbookOptions['people'] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pggit-ops-runbooks-'));
  const file = path.join(dir, 'pggit-ops.config.yaml');
  writeFileSync(
    file,
    [
      'people:',
      '  users: { alice: {}, bob: {}, carol: {}, dave: {} }',
      '  groups:',
      '    dba: [alice, bob]',
      '    security: [carol, dave]',
      '',
    ].join('\n'),
  );
  return loadConfig({ file, env: {} }).config.people;
}

const options: RunbookOptions = { checks, people: samplePeople() };

function problem(text: string, extra: Partial<RunbookOptions> = {}, fileName = 't.yaml'): RunbookError {
  try {
    parseRunbook(text, fileName, { ...options, ...extra });
  } catch (err) {
    expect(err).toBeInstanceOf(RunbookError);
    return err as RunbookError;
  }
  throw new Error('expected a RunbookError');
}

/** Lines joined, so a fixture's line numbers can be read off the array index (+1). */
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
/** The message of an error with several problems: their count, then one a line. */
const several = (file: string, ...problems: string[]): string => [`${file}: ${problems.length} problems`, ...problems].join('\n  ');
/** A runbook `t` whose step lines start at line 4. */
const withSteps = (...lines: string[]): string => yaml('name: t', 'description: test', 'steps:', ...lines);

describe('shipped runbooks', () => {
  it.each(shipped)('%s loads with the sample people and the registry', (name) => {
    const file = path.join(runbooksDir, `${name}.yaml`);
    const runbook = loadRunbook(file, options);
    expect(runbook.name).toBe(name);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe('# yaml-language-server: $schema=./runbook.schema.json');
    expect(JSON.parse(JSON.stringify(runbook))).toStrictEqual(runbook);
  });

  it('encode every item of the Operations Checklist with its check', () => {
    const activities = Object.fromEntries(
      shipped.map((name) => [name, loadRunbook(path.join(runbooksDir, `${name}.yaml`), options).steps.map((s) => (s.kind === 'sign_off' ? `sign-off: ${s.title}` : s.activity))]),
    );
    expect(activities).toStrictEqual({
      daily: ['performanceAlerts', 'recentMigrations', 'storageGrowth', 'backupStatus'],
      weekly: ['performanceTrends', 'securityAudit', 'sign-off: Review security audit logs', 'schemaDrift', 'capacityProjection'],
      monthly: ['cleanHistory', 'rebuildIndexes', 'permissionsReview', 'sign-off: Review user permissions', 'restoreDrill'],
      quarterly: [
        'tuningReview',
        'sign-off: Sign off the performance tuning review',
        'securityAssessment',
        'sign-off: Sign off the security assessment',
        'complianceAudit',
        'sign-off: Sign off the compliance audit',
        'techStack',
      ],
    });
  });

  it('monthly: four-eyes gate on the index rebuild, escalating permissions review', () => {
    const monthly = loadRunbook(path.join(runbooksDir, 'monthly.yaml'), options);
    const byId = new Map(monthly.steps.map((s) => [s.id, s]));
    const rebuild = byId.get('rebuild_indexes') as ResolvedActivityStep;
    expect(rebuild.approval).toStrictEqual({
      approvers: ['group:dba'],
      users: ['alice', 'bob'],
      quorum: 2,
      timeout: 86_400_000,
      onTimeout: { action: 'reject' },
      commentRequired: false,
    });
    const review = byId.get('review_user_permissions') as ResolvedSignOffStep;
    expect(review.approval.onTimeout).toStrictEqual({ action: 'escalate', escalateTo: ['group:dba'], users: ['alice', 'bob'], timeout: 86_400_000 });
    expect(review.approval.commentRequired).toBe(true);
  });

  it('need a dba group of two for the four-eyes gate', () => {
    const people = { users: { alice: {}, carol: {} }, groups: { dba: ['alice'], security: ['carol'] } };
    expect(() => loadRunbook(path.join(runbooksDir, 'monthly.yaml'), { checks, people })).toThrow(
      /monthly\.yaml:22:15: step 'rebuild_indexes': approval\.quorum: quorum 2 is more than the 1 distinct people who may approve \(alice\)$/,
    );
  });

  it('the committed JSON Schema is a fresh export of the zod schema (npm run runbooks:schema)', () => {
    expect(readFileSync(path.join(runbooksDir, 'runbook.schema.json'), 'utf8')).toBe(runbookJsonSchemaText());
  });
});

describe('resolution', () => {
  const base = yaml(
    'name: t',
    'description: test',
    'params:',
    '  hours: 26',
    '  label: nightly',
    '  verbose: false',
    'steps:',
    '  - id: backup',
    '    title: Backup',
    '    activity: backupStatus',
    '    args:',
    '      max_age_hours: ${params.hours}',
    '  - id: clean',
    '    title: Clean',
    '    activity: cleanHistory',
    '    args:',
    '      retention_days: ${params.hours}',
    '      label: "${params.label} run, ${params.hours}h, verbose=${params.verbose}"',
  );

  it('keeps a whole ${params.X} typed and interpolates one inside text', () => {
    const runbook = parseRunbook(base, 't.yaml', options);
    expect(runbook.steps.map((s) => (s as ResolvedActivityStep).args)).toStrictEqual([
      { max_age_hours: 26 },
      { retention_days: 26, label: 'nightly run, 26h, verbose=false' },
    ]);
    expect(runbook.params).toStrictEqual({ hours: 26, label: 'nightly', verbose: false });
  });

  it('applies --param overrides, reading strings as the declared type', () => {
    const runbook = parseRunbook(base, 't.yaml', { ...options, params: { hours: '48', label: 'weekend', verbose: 'true' } });
    expect(runbook.params).toStrictEqual({ hours: 48, label: 'weekend', verbose: true });
    expect((runbook.steps[1] as ResolvedActivityStep).args).toStrictEqual({ retention_days: 48, label: 'weekend run, 48h, verbose=true' });
  });

  it('applies defaults by kind: checks 5m and no heartbeat, jobs 2h with a 2m heartbeat', () => {
    const [check, job] = parseRunbook(base, 't.yaml', options).steps as ResolvedActivityStep[];
    const retry = { maximumAttempts: 3, initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 60_000 };
    expect(check).toStrictEqual({
      id: 'backup',
      title: 'Backup',
      onFailure: { action: 'abort' },
      compensationOnly: false,
      kind: 'check',
      activity: 'backupStatus',
      args: { max_age_hours: 26 },
      startToCloseTimeout: 300_000,
      retry,
    });
    expect(job).toMatchObject({ kind: 'job', startToCloseTimeout: 7_200_000, heartbeatTimeout: 120_000, retry });
  });

  it('resolves every field of a full step and survives a JSON round trip unchanged', () => {
    const runbook = parseRunbook(
      withSteps(
        '  - id: first',
        '    title: First',
        '    activity: performanceAlerts',
        '  - id: undo',
        '    title: Undo by hand',
        '    compensation_only: true',
        '    approval: { approvers: [alice], timeout: 30m, comment_required: false }',
        '  - id: second',
        '    title: Second',
        '    activity: rebuildIndexes',
        '    timeout: 90s',
        '    heartbeat_timeout: 10s',
        '    retry: { maximum_attempts: 5, initial_interval: 2s, backoff_coefficient: 1.5, maximum_interval: 30s }',
        '    when: { step: first, status: succeeded, min_severity: warning, has_findings: true }',
        '    on_failure: { compensate: undo }',
        '    approval:',
        '      approvers: [alice, "group:dba", "group:security"]',
        '      quorum: 3',
        '      timeout: 4h',
        '      on_timeout: { escalate_to: ["group:security"], timeout: 2h }',
        '      comment_required: true',
      ),
      't.yaml',
      options,
    );
    expect(runbook.steps[1]).toStrictEqual({
      id: 'undo',
      title: 'Undo by hand',
      onFailure: { action: 'abort' },
      compensationOnly: true,
      kind: 'sign_off',
      approval: { approvers: ['alice'], users: ['alice'], quorum: 1, timeout: 1_800_000, onTimeout: { action: 'reject' }, commentRequired: false },
    });
    expect(runbook.steps[2]).toStrictEqual({
      id: 'second',
      title: 'Second',
      when: { step: 'first', status: 'succeeded', minSeverity: 'warning', hasFindings: true },
      onFailure: { action: 'compensate', step: 'undo' },
      compensationOnly: false,
      kind: 'job',
      activity: 'rebuildIndexes',
      args: {},
      startToCloseTimeout: 90_000,
      heartbeatTimeout: 10_000,
      retry: { maximumAttempts: 5, initialInterval: 2_000, backoffCoefficient: 1.5, maximumInterval: 30_000 },
      approval: {
        approvers: ['alice', 'group:dba', 'group:security'],
        users: ['alice', 'bob', 'carol', 'dave'],
        quorum: 3,
        timeout: 14_400_000,
        onTimeout: { action: 'escalate', escalateTo: ['group:security'], users: ['carol', 'dave'], timeout: 7_200_000 },
        commentRequired: true,
      },
    });
    expect(JSON.parse(JSON.stringify(runbook))).toStrictEqual(runbook);
  });
});

describe('errors name file:line:column and the step', () => {
  it('YAML syntax errors', () => {
    const err = problem(withSteps('  - id: first', '    title: First', '    activity: performanceAlerts', '    args: { a: 1, a: 2 }'));
    expect(err.message).toBe("t.yaml:7:19: step 'first': invalid YAML: Map keys must be unique");
    expect(problem('name: t\nsteps: [\n').message).toMatch(/^t\.yaml:3:1: invalid YAML: /);
  });

  it('schema issues at the offending node, missing keys at their parent, unknown keys at the key', () => {
    const err = problem(
      withSteps(
        '  - id: first',
        '    activity: performanceAlerts',
        '    timeout: soon',
        '    retry:',
        '      maximum_attempts: 0',
        '    tiemout: 5m',
        '    on_failure: later',
      ),
    );
    expect(err.issues.map((i) => [i.line, i.column, i.step])).toStrictEqual([
      [4, 5, 'first'],
      [6, 14, 'first'],
      [8, 25, 'first'],
      [9, 5, 'first'],
      [10, 17, 'first'],
    ]);
    expect(err.message).toBe(
      several(
        't.yaml',
        "t.yaml:4:5: step 'first': title: missing (expected string)",
        "t.yaml:6:14: step 'first': timeout: must be a duration like 30s, 15m, 4h or 2d",
        "t.yaml:8:25: step 'first': retry.maximum_attempts: Too small: expected number to be >=1",
        "t.yaml:9:5: step 'first': tiemout: unknown key",
        "t.yaml:10:17: step 'first': on_failure: must be abort, continue or { compensate: STEP_ID }",
      ),
    );
  });

  it('unknown activity, still reported next to other problems of the same step', () => {
    const err = problem(withSteps('  - id: first', '    title: First', '    activity: perfAlerts', '    timeout: soon'));
    expect(err.issues.map((i) => i.message)).toStrictEqual([
      `activity: unknown activity 'perfAlerts' (known: ${checks.map((c) => c.name).sort().join(', ')})`,
      'timeout: must be a duration like 30s, 15m, 4h or 2d',
    ]);
    expect(err.issues[0]).toMatchObject({ line: 6, column: 15, step: 'first' });
  });

  it("bad args, with the check's own issue at the arg's line", () => {
    const err = problem(
      withSteps(
        '  - id: backup',
        '    title: Backup',
        '    activity: backupStatus',
        '    args:',
        '      max_age_hours: -1',
        '      max_age: 3',
        '  - id: clean',
        '    title: Clean',
        '    activity: cleanHistory',
        '    args: { retention_days: "90" }',
        '  - id: backup_again',
        '    title: Backup again',
        '    activity: backupStatus',
      ),
    );
    expect(err.message).toBe(
      several(
        't.yaml',
        "t.yaml:8:22: step 'backup': args.max_age_hours: Too small: expected number to be >0",
        "t.yaml:9:7: step 'backup': args.max_age: unknown key",
        "t.yaml:13:29: step 'clean': args.retention_days: Invalid input: expected number, received string",
        "t.yaml:14:5: step 'backup_again': args.max_age_hours: missing (expected number)",
      ),
    );
  });

  it('when.step must name an earlier step', () => {
    const err = problem(
      withSteps(
        '  - id: first',
        '    title: First',
        '    activity: performanceAlerts',
        '    when: { step: second, status: failed }',
        '  - id: second',
        '    title: Second',
        '    activity: storageGrowth',
        '    when: { step: nope, has_findings: true }',
        '  - id: third',
        '    title: Third',
        '    activity: storageGrowth',
        '    when: { step: third }',
      ),
    );
    expect(err.message).toBe(
      several(
        't.yaml',
        "t.yaml:7:19: step 'first': when.step: 'second' is not an earlier step: a condition can only look back",
        "t.yaml:11:19: step 'second': when.step: unknown step 'nope'",
        "t.yaml:15:5: step 'third': when: needs at least one of status, min_severity, has_findings",
      ),
    );
  });

  it('approval.quorum_from must name an earlier activity step', () => {
    const err = problem(
      withSteps(
        '  - id: first',
        '    title: First',
        '    activity: rebuildIndexes',
        '    approval: { approvers: ["group:dba"], timeout: 1h, quorum_from: { step: second, field: approvers_needed } }',
        '  - id: second',
        '    title: Second',
        '    activity: rebuildIndexes',
        '    approval: { approvers: ["group:dba"], timeout: 1h, quorum_from: { step: nope, field: approvers_needed } }',
        '  - id: sign',
        '    title: Sign',
        '    approval: { approvers: [alice], timeout: 1h }',
        '  - id: third',
        '    title: Third',
        '    activity: rebuildIndexes',
        '    approval: { approvers: ["group:dba"], timeout: 1h, quorum_from: { step: sign, field: needed } }',
        '  - id: fourth',
        '    title: Fourth',
        '    activity: rebuildIndexes',
        '    approval: { approvers: ["group:dba"], timeout: 1h, quorum_from: { step: first, field: Needed } }',
      ),
    );
    expect(err.message).toBe(
      several(
        't.yaml',
        "t.yaml:7:77: step 'first': approval.quorum_from.step: 'second' is not an earlier step: a quorum can only come from a step that has run",
        "t.yaml:11:77: step 'second': approval.quorum_from.step: unknown step 'nope'",
        "t.yaml:18:77: step 'third': approval.quorum_from.step: 'sign' is a sign-off: it has no result data to take a quorum from",
        "t.yaml:22:91: step 'fourth': approval.quorum_from.field: must be a key of that step's result data: lower-case letters, digits and \"_\"",
      ),
    );
    const resolved = parseRunbook(
      withSteps(
        '  - { id: first, title: First, activity: rebuildIndexes }',
        '  - id: second',
        '    title: Second',
        '    activity: rebuildIndexes',
        '    approval: { approvers: ["group:dba"], timeout: 1h, quorum_from: { step: first, field: approvers_needed } }',
      ),
      't.yaml',
      options,
    );
    expect((resolved.steps[1] as ResolvedActivityStep).approval).toMatchObject({ quorum: 1, quorumFrom: { step: 'first', field: 'approvers_needed' } });
  });

  it('unknown approvers and groups, and a quorum above the people who may approve', () => {
    const err = problem(
      withSteps(
        '  - id: sign',
        '    title: Sign',
        '    approval:',
        '      approvers: [zed, "group:ops"]',
        '      timeout: 1h',
        '      on_timeout: { escalate_to: ["group:oncall"], timeout: 1h }',
        '  - id: gate',
        '    title: Gate',
        '    activity: rebuildIndexes',
        '    approval:',
        '      approvers: [alice, "group:dba"]',
        '      quorum: 3',
        '      timeout: 1h',
      ),
    );
    expect(err.message).toBe(
      several(
        't.yaml',
        "t.yaml:7:19: step 'sign': approval.approvers[0]: unknown user 'zed' (users in the config's people: alice, bob, carol, dave)",
        "t.yaml:7:24: step 'sign': approval.approvers[1]: unknown group 'ops' (groups in the config's people: dba, security)",
        "t.yaml:9:35: step 'sign': approval.on_timeout.escalate_to[0]: unknown group 'oncall' (groups in the config's people: dba, security)",
        "t.yaml:15:15: step 'gate': approval.quorum: quorum 3 is more than the 2 distinct people who may approve (alice, bob)",
      ),
    );
  });

  it('compensation targets must exist and be compensation_only', () => {
    const err = problem(
      withSteps(
        '  - id: first',
        '    title: First',
        '    activity: rebuildIndexes',
        '    on_failure: { compensate: second }',
        '  - id: second',
        '    title: Second',
        '    activity: restoreDrill',
        '    on_failure: { compensate: gone }',
      ),
    );
    expect(err.message).toBe(
      several(
        't.yaml',
        "t.yaml:7:31: step 'first': on_failure.compensate: step 'second' must have compensation_only: true to be a compensation",
        "t.yaml:11:31: step 'second': on_failure.compensate: unknown step 'gone'",
      ),
    );
  });

  it('duplicate ids, and a name that is not the file name', () => {
    const err = problem(
      yaml('name: daily', 'description: test', 'steps:', '  - id: first', '    title: First', '    activity: storageGrowth', '  - id: first', '    title: Again', '    activity: storageGrowth'),
      {},
      'runbooks/t.yml',
    );
    expect(err.message).toBe(
      several(
        'runbooks/t.yml',
        "runbooks/t.yml:1:7: name: 'daily' must be the file's base name 't'",
        "runbooks/t.yml:7:9: step 'first': id: also the id of the step at line 4",
      ),
    );
  });

  it('sign-off steps need an approval and take no activity settings', () => {
    const err = problem(
      withSteps('  - id: sign', '    title: Sign', '  - id: sign_too', '    title: Sign too', '    timeout: 5m', '    approval: { approvers: [carol], timeout: 1d }'),
    );
    expect(err.message).toBe(
      several(
        't.yaml',
        "t.yaml:4:5: step 'sign': a step without activity is a sign-off and needs approval",
        "t.yaml:8:14: step 'sign_too': timeout: timeout is for activity steps; a sign-off step has none",
      ),
    );
  });

  it('--param overrides must be declared and of the declared type; args may only use declared params', () => {
    const text = yaml(
      'name: t',
      'description: test',
      'params:',
      '  hours: 26',
      'steps:',
      '  - id: backup',
      '    title: Backup',
      '    activity: backupStatus',
      '    args:',
      '      max_age_hours: ${params.hour}',
      '  - id: clean',
      '    title: Clean',
      '    activity: cleanHistory',
      '    args: { retention_days: 90, label: "keep ${params.days} days" }',
    );
    expect(problem(text, { params: { hours: 'many', days: '3' } }).message).toBe(
      several(
        't.yaml',
        't.yaml:3:1: params: --param days: not declared (declared: hours)',
        't.yaml:4:10: params.hours: --param hours=many: must be a number, like the default 26',
        "t.yaml:10:22: step 'backup': args.max_age_hours: unknown param 'hour' (declared: hours)",
        "t.yaml:14:40: step 'clean': args.label: unknown param 'days' (declared: hours)",
      ),
    );
  });

  it('args must be plain data, which JSON carries unchanged', () => {
    const err = problem(withSteps('  - id: first', '    title: First', '    activity: storageGrowth', '    args: { limit: .inf }'));
    expect(err.message).toBe("t.yaml:7:20: step 'first': args.limit: must be plain data: a string, a finite number, a boolean, null, a list or a mapping");
  });

  it('an empty file, and a file that cannot be read', () => {
    expect(problem('').message).toBe('t.yaml:1:1: Invalid input: expected object, received null');
    expect(() => loadRunbook('/nonexistent/daily.yaml', options)).toThrow(/^\/nonexistent\/daily\.yaml: cannot read: ENOENT/);
  });
});

describe('validateRunbookFiles', () => {
  it('reports each file on its own', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pggit-ops-runbooks-'));
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, yaml('name: broken', 'description: test', 'steps:', '  - id: first', '    title: First', '    activity: nope'));
    const daily = path.join(runbooksDir, 'daily.yaml');
    const results = validateRunbookFiles([daily, broken], options);
    expect(results.map((r) => r.ok)).toStrictEqual([true, false]);
    expect(results[1]).toMatchObject({ file: broken, issues: [{ file: broken, line: 6, column: 15, step: 'first' }] });
  });
});

describe('mutated runbooks', () => {
  /** mulberry32: reproducible, so a failure names its seed. */
  function random(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const replacements: unknown[] = ['x', '', '${params.nope}', '5m', 'group:nobody', 'abort', 0, -1, 1.5, 1e300, true, false, null, [], [1, 'a'], {}, { a: 1 }, { compensate: 'x' }];
  const texts = shipped.map((name) => [name, readFileSync(path.join(runbooksDir, `${name}.yaml`), 'utf8')] as const);

  function paths(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
    if (typeof value !== 'object' || value === null) return [];
    const children = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
    return children.flatMap(([key, child]) => [[...at, key], ...paths(child, [...at, key])]);
  }

  function mutate(doc: unknown, next: () => number): unknown {
    const all = paths(doc);
    const target = all[Math.floor(next() * all.length)]!;
    let parent = doc as Record<string | number, unknown>;
    for (const key of target.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const key = target.at(-1)!;
    if (next() < 0.4) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else {
      parent[key] = structuredClone(replacements[Math.floor(next() * replacements.length)]);
    }
    return doc;
  }

  it('never throw anything but a RunbookError with a place for every problem', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const next = random(seed);
      const [name, text] = texts[seed % texts.length]!;
      let mutated: string;
      if (seed % 5 === 0) {
        // Text damage too, for the YAML error path.
        const cut = Math.floor(next() * text.length);
        mutated = text.slice(0, cut) + ['{', ']', ':', '\n  - ', '"', '*x', '&a '][seed % 7] + text.slice(cut + 1);
      } else {
        let doc = parseYaml(text) as unknown;
        for (let n = 1 + Math.floor(next() * 3); n > 0; n--) doc = mutate(doc, next);
        mutated = stringifyYaml(doc);
      }
      try {
        const runbook = parseRunbook(mutated, `${name}.yaml`, options);
        expect(JSON.parse(JSON.stringify(runbook)), `seed ${seed}`).toStrictEqual(runbook);
      } catch (err) {
        expect(err, `seed ${seed}: ${String(err)}`).toBeInstanceOf(RunbookError);
        for (const issue of (err as RunbookError).issues) expect(issue.line, `seed ${seed}: ${issue.message}`).toBeGreaterThan(0);
      }
    }
  });
});
