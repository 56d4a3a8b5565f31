// Missing, malformed and out-of-range command-line input: exit 2, a message naming the input, nothing
// on stdout, nothing started (none of these reach Temporal or a database).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../worker/tools.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pggit-ops-bad-input-'));
const config = path.join(dir, 'pggit-ops.config.yaml');
// Nothing listens here: a command that got past its input checks would fail with exit 4, not 2.
writeFileSync(config, 'temporal:\n  address: 127.0.0.1:9\ntargets:\n  app: { host: 127.0.0.1, port: 9, database: app, user: u, password_env: PGGIT_OPS_BAD_INPUT_PW }\n');

const cases: Array<[args: string[], stderr: RegExp]> = [
  [['drill'], /required option '--db <name>'/],
  [['recover', '--db', 'app'], /required option '--backup <id>'/],
  [['status'], /missing required argument 'run'/],
  [['approve', 'some/run'], /required option '--step <id>'/],
  [['schedules', 'trigger'], /missing required argument 'schedule'/],
  [['frobnicate'], /unknown command 'frobnicate'/],
  [['risk'], /missing required argument 'files'/],
  [['risk', '--max-risk', '200', 'README.md'], /--max-risk must be an integer from 0 to 100, got "200"/],
  [['risk', '--max-risk', 'high', 'README.md'], /--max-risk must be an integer from 0 to 100, got "high"/],
  [['risk', path.join(dir, 'no such file.sql')], /no such file\.sql.*cannot read/],
  [['serve', '--port', '-1'], /--port -1: must be 0-65535/],
  [['serve', '--port', 'eighty'], /--port eighty/],
  [['codec-server'], /temporal\.payload_encryption is not configured/],
  [['backup', '--db', 'app', '--format', 'zip'], /args\.format: Invalid option: expected one of "custom"\|"directory"/],
  [['run', path.join(projectRoot, 'runbooks/daily.yaml'), '--db', 'app', '--param', 'nope=1'], /--param nope: not declared/],
  [['run', path.join(projectRoot, 'runbooks/daily.yaml'), '--db', 'app', '--param', 'backup_max_age_hours=many'], /backup_max_age_hours/],
  [['run', path.join(projectRoot, 'runbooks/daily.yaml'), '--db', 'nope'], /unknown target 'nope'/],
  [['cicd', 'generate', 'gitlab'], /gitlab/],
];

describe('bad command-line input', () => {
  it.each(cases)('pggit-ops %j exits 2 naming the input', async (args, stderr) => {
    const r = await execa('node', [path.join(projectRoot, 'cli/bin.mjs'), '--config', config, ...args], { reject: false, stdin: 'ignore' });
    expect({ exitCode: r.exitCode, stdout: r.stdout }).toEqual({ exitCode: 2, stdout: '' });
    expect(r.stderr).toMatch(stderr);
  });
});
