// Headless Chromium for tests that use the dashboard as a person would: Debian's chromium
// (scripts/setup.sh installs it), driven by playwright-core, which never downloads a browser.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { projectRoot } from '../../worker/tools.ts';

export function chromiumPath(): string {
  const candidates = [process.env.PGGIT_OPS_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium at ${candidates.join(', ')}: run scripts/setup.sh, or set PGGIT_OPS_CHROMIUM`);
  return found;
}

export function launchChromium(): Promise<Browser> {
  // As root (CI containers), Chromium's sandbox cannot start; the pages it loads are our own.
  return chromium.launch({ executablePath: chromiumPath(), args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}

/** test-artifacts/ (git-ignored): screenshots a person can look at after the run. */
export function artifactPath(file: string): string {
  const dir = path.join(projectRoot, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, file);
}
