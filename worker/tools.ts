// Where the external programs pggit-ops drives live: the Temporal CLI and PostgreSQL's binaries.
// The pins come from scripts/versions.env, the same file the install scripts read.
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

function readPins(): Record<string, string> {
  const text = readFileSync(path.join(projectRoot, 'scripts', 'versions.env'), 'utf8');
  const pins: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) pins[m[1]!] = m[2]!;
  }
  return pins;
}

const pins = readPins();
export const TEMPORAL_CLI_VERSION = pins.TEMPORAL_CLI_VERSION!;
export const PG_MAJOR = Number(pins.PG_MAJOR);

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

export function cacheRoot(): string {
  return process.env.PGGIT_OPS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'pggit-ops');
}

/** The Temporal CLI: env TEMPORAL_CLI_PATH, then `temporal` on PATH, then the cached pinned install. */
export function findTemporalCli(): string {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const cached = path.join(cacheRoot(), 'temporal-cli', `v${TEMPORAL_CLI_VERSION}`, 'temporal');
  const found = onPath('temporal') ?? (isExecutable(cached) ? cached : undefined);
  if (!found) {
    throw new Error(`Temporal CLI not found (TEMPORAL_CLI_PATH, PATH, ${cached}); run: bash scripts/setup.sh`);
  }
  return found;
}

/** PostgreSQL's bin directory: env PG_BINDIR, else Debian's /usr/lib/postgresql/<PG_MAJOR>/bin. */
export function pgBinDir(): string {
  const dir = process.env.PG_BINDIR ?? `/usr/lib/postgresql/${PG_MAJOR}/bin`;
  if (!isExecutable(path.join(dir, 'pg_ctl'))) {
    throw new Error(`PostgreSQL binaries not found in ${dir} (set PG_BINDIR or run: bash scripts/setup.sh)`);
  }
  return dir;
}

export function pgBin(name: 'initdb' | 'pg_ctl' | 'pg_dump' | 'pg_restore' | 'psql' | 'pg_isready' | 'pg_amcheck' | 'pgbench'): string {
  return path.join(pgBinDir(), name);
}
