// The set-up that `npm test` and `npm run up` start with is idempotent: run again, it installs nothing.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { projectRoot, TEMPORAL_CLI_VERSION } from '../worker/tools.ts';

describe('scripts/setup.sh', () => {
  it('installs nothing on a machine that already has everything', async () => {
    const { stdout } = await execa('bash', ['scripts/setup.sh'], { cwd: projectRoot });
    expect(stdout.trim()).toBe('setup: nothing to install');
  });

  it('finds the pinned Temporal CLI in its cache instead of building it again', async () => {
    const { stdout } = await execa('bash', ['scripts/install-temporal.sh'], { cwd: projectRoot });
    expect(stdout).toMatch(new RegExp(`^present .*/temporal-cli/v${TEMPORAL_CLI_VERSION}/temporal$`));
    const version = await execa(stdout.replace(/^present /, ''), ['--version']);
    expect(version.stdout).toContain(`temporal version ${TEMPORAL_CLI_VERSION}`);
  });
});
