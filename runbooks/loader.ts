// Turns a runbook file into the plain, fully resolved object the interpreter workflow takes as
// input. Every problem of a file is reported at once, each at its file:line:column and step, so a
// runbook is fixed in one round rather than one error per attempt.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import type { CheckDefinition } from '../activities/checks/define.ts';
import {
  paramsSchema,
  runbookSchema,
  stepSchema,
  type ParamValue,
  type ResolvedActivityStep,
  type ResolvedApproval,
  type ResolvedRunbook,
  type ResolvedStep,
  type StepCondition,
  type StepFile,
} from './schema.ts';

/** What the loader needs of a check's definition: the registry's `allChecks` fits. */
export type CheckShape = Pick<CheckDefinition, 'name' | 'kind' | 'args'>;

/** The config's `people` (Config['people'] fits). */
export interface People {
  users: Readonly<Record<string, unknown>>;
  groups: Readonly<Record<string, readonly string[]>>;
}

export interface RunbookOptions {
  checks: readonly CheckShape[];
  people: People;
  /** `--param NAME=VALUE` overrides: strings are read as the declared default's type. */
  params?: Readonly<Record<string, ParamValue>>;
}

export interface RunbookIssue {
  file: string;
  /** 1-based; absent only when the file could not be read. */
  line?: number;
  column?: number;
  /** The id of the step the problem is in, when it has one. */
  step?: string;
  message: string;
}

export class RunbookError extends Error {
  override name = 'RunbookError';
  readonly file: string;
  readonly issues: readonly RunbookIssue[];

  constructor(file: string, issues: readonly RunbookIssue[]) {
    const lines = issues.map(formatIssue);
    super(lines.length === 1 ? lines[0] : `${file}: ${lines.length} problems\n  ${lines.join('\n  ')}`);
    this.file = file;
    this.issues = issues;
  }
}

function formatIssue(issue: RunbookIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}:${issue.column}`;
  return `${where}: ${issue.step === undefined ? '' : `step '${issue.step}': `}${issue.message}`;
}

export function loadRunbook(file: string, options: RunbookOptions): ResolvedRunbook {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RunbookError(file, [{ file, message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseRunbook(text, file, options);
}

export type RunbookValidation =
  | { file: string; ok: true; runbook: ResolvedRunbook }
  | { file: string; ok: false; issues: readonly RunbookIssue[]; message: string };

/** For `pggit-ops runbooks validate FILE...`: every file is checked, whatever the others hold. */
export function validateRunbookFiles(files: readonly string[], options: RunbookOptions): RunbookValidation[] {
  return files.map((file) => {
    try {
      return { file, ok: true, runbook: loadRunbook(file, options) };
    } catch (err) {
      if (!(err instanceof RunbookError)) throw err;
      return { file, ok: false, issues: err.issues, message: err.message };
    }
  });
}

const CHECK_DEFAULTS = { check: { timeout: '5m', heartbeat: undefined }, job: { timeout: '2h', heartbeat: '2m' } } as const;
const RETRY_DEFAULTS = { maximum_attempts: 3, initial_interval: '1s', backoff_coefficient: 2, maximum_interval: '1m' } as const;

/** @param fileName used in messages, and its base name is what `name` must be. */
export function parseRunbook(text: string, fileName: string, options: RunbookOptions): ResolvedRunbook {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems = new Problems(fileName, doc, lines);
  for (const error of doc.errors) problems.atOffset(error.pos[0], `invalid YAML: ${error.message}`);
  const raw = problems.any() ? undefined : toJS(doc, problems);
  if (problems.any()) throw problems.error();

  const parsed = runbookSchema.safeParse(raw);
  if (!parsed.success) problems.zod(parsed.error.issues, []);
  const top = isRecord(raw) ? raw : {};
  const base = path.basename(fileName).replace(/\.ya?ml$/, '');
  if (typeof top.name === 'string' && top.name !== base) problems.at(['name'], `'${top.name}' must be the file's base name '${base}'`);
  const params = resolveParams(top.params, options.params ?? {}, problems);
  const rawSteps = Array.isArray(top.steps) ? (top.steps as unknown[]) : [];
  const ids = stepIds(rawSteps, problems);
  const checks = new Map(options.checks.map((check) => [check.name, check]));
  const steps: ResolvedStep[] = [];
  rawSteps.forEach((rawStep, index) => {
    const resolved = resolveStep(rawStep, { index, ids, rawSteps, params, checks, people: options.people, problems });
    if (resolved) steps.push(resolved);
  });
  // Every way to get here without a parsed file or params has recorded a problem.
  if (!parsed.success || params === undefined || problems.any()) throw problems.error();
  return { name: parsed.data.name, description: parsed.data.description, params, steps };
}

function toJS(doc: Document, problems: Problems): unknown {
  try {
    return doc.toJS();
  } catch (err) {
    // e.g. an alias expanding into too much data ("billion laughs")
    problems.atOffset(0, `invalid YAML: ${(err as Error).message}`);
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function names(values: Iterable<string>): string {
  return [...values].sort().join(', ') || 'none';
}

function resolveParams(rawParams: unknown, overrides: Readonly<Record<string, ParamValue>>, problems: Problems): Record<string, ParamValue> | undefined {
  const declared = paramsSchema.safeParse(rawParams);
  if (!declared.success) return undefined;
  const params = { ...declared.data };
  for (const [name, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(declared.data, name)) {
      problems.at(['params'], `--param ${name}: not declared (declared: ${names(Object.keys(declared.data))})`, true);
      continue;
    }
    const like = declared.data[name]!;
    const coerced = coerce(value, like);
    if (coerced === undefined) problems.at(['params', name], `--param ${name}=${String(value)}: must be a ${typeof like}, like the default ${JSON.stringify(like)}`);
    else params[name] = coerced;
  }
  return params;
}

/** Reads a command-line string as the type of the param's default. */
function coerce(value: ParamValue, like: ParamValue): ParamValue | undefined {
  if (typeof value === typeof like) return value;
  if (typeof value !== 'string') return undefined;
  if (typeof like === 'number') {
    const number = Number(value);
    return value.trim() !== '' && Number.isFinite(number) ? number : undefined;
  }
  return value === 'true' ? true : value === 'false' ? false : undefined;
}

/** Each id to the first step that has it; a repeat is a problem. */
function stepIds(rawSteps: readonly unknown[], problems: Problems): Map<string, number> {
  const ids = new Map<string, number>();
  rawSteps.forEach((step, index) => {
    if (!isRecord(step) || typeof step.id !== 'string') return;
    const first = ids.get(step.id);
    if (first === undefined) ids.set(step.id, index);
    else problems.at(['steps', index, 'id'], `also the id of the step at line ${problems.lineOf(['steps', first])}`);
  });
  return ids;
}

interface StepContext {
  index: number;
  ids: ReadonlyMap<string, number>;
  rawSteps: readonly unknown[];
  params: Readonly<Record<string, ParamValue>> | undefined;
  checks: ReadonlyMap<string, CheckShape>;
  people: People;
  problems: Problems;
}

/**
 * Each field of a step parsed on its own, so that a bad field does not hide the problems of the
 * others (an unknown activity is reported even when the timeout is misspelt too).
 */
function stepFields(rawStep: unknown): Partial<StepFile> {
  if (!isRecord(rawStep)) return {};
  const fields: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(stepSchema.shape)) {
    const field = schema.safeParse(rawStep[key]);
    if (field.success && field.data !== undefined) fields[key] = field.data;
  }
  return fields as Partial<StepFile>;
}

/** Checks a step against the registry, the people and the other steps; resolves it when it is all valid. */
function resolveStep(rawStep: unknown, ctx: StepContext): ResolvedStep | undefined {
  const { index, ids, problems } = ctx;
  const at = (...rest: PropertyKey[]): PropertyKey[] => ['steps', index, ...rest];
  const step = stepFields(rawStep);
  if (step.when) {
    const position = ids.get(step.when.step);
    if (position === undefined) problems.at(at('when', 'step'), `unknown step '${step.when.step}'`);
    else if (position >= index) problems.at(at('when', 'step'), `'${step.when.step}' is not an earlier step: a condition can only look back`);
  }
  if (typeof step.on_failure === 'object') {
    const target = ids.get(step.on_failure.compensate);
    const targetStep = target === undefined ? undefined : ctx.rawSteps[target];
    if (targetStep === undefined) problems.at(at('on_failure', 'compensate'), `unknown step '${step.on_failure.compensate}'`);
    else if (!isRecord(targetStep) || targetStep.compensation_only !== true) {
      problems.at(at('on_failure', 'compensate'), `step '${step.on_failure.compensate}' must have compensation_only: true to be a compensation`);
    }
  }
  const approval = step.approval && resolveApproval(step.approval, at('approval'), step.activity === undefined, ctx);
  const check = step.activity === undefined ? undefined : ctx.checks.get(step.activity);
  if (step.activity !== undefined && !check) problems.at(at('activity'), `unknown activity '${step.activity}' (known: ${names(ctx.checks.keys())})`);
  const args = step.activity !== undefined && ctx.params ? substituteArgs(step.args ?? {}, ctx.params, at('args'), problems) : undefined;
  if (check && args) {
    const valid = check.args.safeParse(args);
    if (!valid.success) problems.zod(valid.error.issues, at('args'));
  }
  const retry = { ...RETRY_DEFAULTS, ...step.retry };
  if (durationMs(retry.maximum_interval) < durationMs(retry.initial_interval)) {
    // Temporal refuses such a policy only when the activity is scheduled, mid-run.
    problems.at(at('retry'), `maximum_interval (${retry.maximum_interval}) is shorter than initial_interval (${retry.initial_interval})`);
  }

  const complete = stepSchema.safeParse(rawStep);
  if (!complete.success) return undefined;
  const { id, title, when, on_failure: onFailure, compensation_only: compensationOnly, activity } = complete.data;
  const common = {
    id,
    title,
    ...(when && { when: condition(when) }),
    onFailure: typeof onFailure === 'string' ? { action: onFailure } : { action: 'compensate' as const, step: onFailure.compensate },
    compensationOnly,
  };
  if (activity === undefined) return approval && { ...common, kind: 'sign_off', approval };
  if (!check || !args || (step.approval && !approval)) return undefined;
  const defaults = CHECK_DEFAULTS[check.kind];
  const heartbeat = complete.data.heartbeat_timeout ?? defaults.heartbeat;
  const resolved: ResolvedActivityStep = {
    ...common,
    kind: check.kind,
    activity,
    args,
    startToCloseTimeout: durationMs(complete.data.timeout ?? defaults.timeout),
    ...(heartbeat !== undefined && { heartbeatTimeout: durationMs(heartbeat) }),
    retry: {
      maximumAttempts: retry.maximum_attempts,
      initialInterval: durationMs(retry.initial_interval),
      backoffCoefficient: retry.backoff_coefficient,
      maximumInterval: durationMs(retry.maximum_interval),
    },
    ...(approval && { approval }),
  };
  return resolved;
}

function condition(when: NonNullable<StepFile['when']>): StepCondition {
  const { step, status, min_severity: minSeverity, has_findings: hasFindings } = when;
  return { step, ...(status && { status }), ...(minSeverity && { minSeverity }), ...(hasFindings !== undefined && { hasFindings }) };
}

function resolveApproval(approval: NonNullable<StepFile['approval']>, at: PropertyKey[], signOff: boolean, ctx: StepContext): ResolvedApproval | undefined {
  const { problems } = ctx;
  const before = problems.count();
  const users = expandApprovers(approval.approvers, [...at, 'approvers'], ctx);
  if (problems.count() === before && approval.quorum > users.length) {
    problems.at([...at, 'quorum'], `quorum ${approval.quorum} is more than the ${users.length} distinct people who may approve (${names(users)})`);
  }
  if (approval.quorum_from) {
    // Like `when`, a quorum can only come from a step that has run by the time the gate opens, and
    // only an activity step has result data.
    const position = ctx.ids.get(approval.quorum_from.step);
    const source = position === undefined ? undefined : ctx.rawSteps[position];
    if (position === undefined) problems.at([...at, 'quorum_from', 'step'], `unknown step '${approval.quorum_from.step}'`);
    else if (position >= ctx.index) problems.at([...at, 'quorum_from', 'step'], `'${approval.quorum_from.step}' is not an earlier step: a quorum can only come from a step that has run`);
    else if (!isRecord(source) || source.activity === undefined) problems.at([...at, 'quorum_from', 'step'], `'${approval.quorum_from.step}' is a sign-off: it has no result data to take a quorum from`);
  }
  const onTimeout: ResolvedApproval['onTimeout'] =
    approval.on_timeout === 'reject'
      ? { action: 'reject' }
      : {
          action: 'escalate',
          escalateTo: approval.on_timeout.escalate_to,
          users: expandApprovers(approval.on_timeout.escalate_to, [...at, 'on_timeout', 'escalate_to'], ctx),
          timeout: durationMs(approval.on_timeout.timeout),
        };
  if (problems.count() !== before) return undefined;
  return {
    approvers: approval.approvers,
    users,
    quorum: approval.quorum,
    ...(approval.quorum_from && { quorumFrom: { step: approval.quorum_from.step, field: approval.quorum_from.field } }),
    timeout: durationMs(approval.timeout),
    onTimeout,
    commentRequired: approval.comment_required ?? signOff,
  };
}

/** Users and `group:NAME`s to user names, each once, in the order written. */
function expandApprovers(approvers: readonly string[], at: PropertyKey[], { people, problems }: StepContext): string[] {
  const users = new Set<string>();
  approvers.forEach((approver, i) => {
    if (approver.startsWith('group:')) {
      const group = approver.slice('group:'.length);
      const members = Object.hasOwn(people.groups, group) ? people.groups[group] : undefined;
      if (members === undefined) problems.at([...at, i], `unknown group '${group}' (groups in the config's people: ${names(Object.keys(people.groups))})`);
      else members.forEach((member) => users.add(member));
    } else if (!Object.hasOwn(people.users, approver)) {
      problems.at([...at, i], `unknown user '${approver}' (users in the config's people: ${names(Object.keys(people.users))})`);
    } else {
      users.add(approver);
    }
  });
  return [...users];
}

const WHOLE_REF = /^\$\{params\.([^}]*)\}$/;
const REF = /\$\{params\.([^}]*)\}/g;

/**
 * `${params.NAME}` as a whole string becomes the param's value, type included; inside a longer
 * string it is interpolated as text. Undefined when a problem was found (then recorded).
 */
function substituteArgs(args: Record<string, unknown>, params: Readonly<Record<string, ParamValue>>, at: PropertyKey[], problems: Problems): Record<string, unknown> | undefined {
  const before = problems.count();
  const lookup = (name: string, where: PropertyKey[]): ParamValue => {
    if (Object.hasOwn(params, name)) return params[name]!;
    problems.at(where, `unknown param '${name}' (declared: ${names(Object.keys(params))})`);
    return '';
  };
  const walk = (value: unknown, where: PropertyKey[]): unknown => {
    if (typeof value === 'string') {
      const whole = WHOLE_REF.exec(value);
      return whole ? lookup(whole[1]!, where) : value.replace(REF, (_, name: string) => String(lookup(name, where)));
    }
    if (Array.isArray(value)) return value.map((item, i) => walk(item, [...where, i]));
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, [...where, key])]));
    // Workflow input goes through JSON: a YAML 1.1 timestamp or .inf would arrive changed.
    if (value !== null && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
      problems.at(where, 'must be plain data: a string, a finite number, a boolean, null, a list or a mapping');
    }
    return value;
  };
  const result = walk(args, at) as Record<string, unknown>;
  return problems.count() === before ? result : undefined;
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration the schema accepted (`duration` of the config) in milliseconds. */
function durationMs(text: string): number {
  const [, amount, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(text)!;
  return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
}

type ZodIssue = z.core.$ZodIssue;

/** Collects problems with their place in the file. */
class Problems {
  private readonly issues: RunbookIssue[] = [];

  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  any(): boolean {
    return this.issues.length > 0;
  }

  count(): number {
    return this.issues.length;
  }

  error(): RunbookError {
    const sorted = [...this.issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    return new RunbookError(this.file, sorted);
  }

  /** At the node `path` names (its key with `atKey`), or the nearest parent the file has. */
  at(path: readonly PropertyKey[], message: string, atKey = false): void {
    const { offset } = this.locate(path, atKey);
    const stepIndex = path[0] === 'steps' && typeof path[1] === 'number' ? path[1] : undefined;
    const step = stepIndex === undefined ? undefined : this.stepId(stepIndex);
    const shown = step === undefined ? path : path.slice(2);
    this.push(offset, step, shown.length > 0 ? `${formatPath(shown)}: ${message}` : message);
  }

  atOffset(offset: number, message: string): void {
    const steps = this.stepNodes();
    const index = steps.findIndex((node) => {
      const [from = 0, , to = 0] = range(node) ?? [];
      return offset >= from && offset < to;
    });
    this.push(offset, index < 0 ? undefined : this.stepId(index), message);
  }

  zod(issues: readonly ZodIssue[], prefix: readonly PropertyKey[]): void {
    // zod goes on checking a value of the wrong type (`activity: []` is also "too small"): the
    // wrong type says it all.
    const wrongType = new Set(issues.filter((i) => i.code === 'invalid_type').map((i) => JSON.stringify(i.path)));
    for (const issue of issues) {
      if (issue.code !== 'invalid_type' && wrongType.has(JSON.stringify(issue.path))) continue;
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) this.at([...path, key], 'unknown key', true);
      } else if (issue.code === 'invalid_key') {
        this.at(path, `invalid name: ${issue.issues.map((i) => i.message).join('; ')}`, true);
      } else if (issue.code === 'invalid_type' && !this.locate(path, false).found) {
        this.at(path, `missing (expected ${issue.expected})`);
      } else {
        this.at(path, issue.message);
      }
    }
  }

  lineOf(path: readonly PropertyKey[]): number {
    return this.lines.linePos(this.locate(path, false).offset).line;
  }

  private push(offset: number, step: string | undefined, message: string): void {
    const { line, col } = this.lines.linePos(offset);
    this.issues.push({ file: this.file, line, column: col, ...(step !== undefined && { step }), message });
  }

  private stepNodes() {
    const root = this.doc.contents;
    const steps = isMap(root) ? root.get('steps', true) : undefined;
    return isSeq(steps) ? steps.items : [];
  }

  private stepId(index: number): string | undefined {
    const node = this.stepNodes()[index];
    const step = isAlias(node) ? node.resolve(this.doc) : node;
    const id = isMap(step) ? step.get('id', true) : undefined;
    return isScalar(id) && typeof id.value === 'string' ? id.value : undefined;
  }

  /**
   * Walks the YAML nodes along `path`. A scalar value is pointed at itself; an empty value or a
   * collection (which starts on a later line) at its key.
   */
  private locate(path: readonly PropertyKey[], atKey: boolean): { offset: number; found: boolean } {
    let node: unknown = this.doc.contents;
    let offset = start(node) ?? 0;
    for (const [i, segment] of path.entries()) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) return { offset, found: false };
        const value = pair.value;
        const onKey = (atKey && i === path.length - 1) || !isScalar(value) || value.value === null;
        offset = (onKey ? start(pair.key) : start(value)) ?? offset;
        node = value;
      } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
        node = node.items[segment];
        offset = start(node) ?? offset;
      } else {
        return { offset, found: false };
      }
    }
    return { offset, found: true };
  }
}

/** [start, value end, node end] offsets, for nodes parsed from text. */
function range(node: unknown): readonly number[] | undefined {
  return (node as { range?: readonly number[] | null } | null)?.range ?? undefined;
}

function start(node: unknown): number | undefined {
  return range(node)?.[0];
}

/** `retry.maximum_attempts`, `approvers[1]`. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : `${i === 0 ? '' : '.'}${String(segment)}`)).join('');
}
