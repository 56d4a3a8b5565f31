// A PostgreSQL cluster of our own: initdb + pg_ctl in a folder, on 127.0.0.1 at a chosen port.
// Used by `npm run up` (a durable cluster under the data folder) and by the tests (throwaway ones).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { pgBin } from './tools.ts';

export interface ClusterOptions {
  /** Folder holding `data/` and `server.log`. */
  dir: string;
  port: number;
  /** Password of the `postgres` superuser; connections use scram-sha-256. */
  password: string;
  /** false for throwaway clusters: no fsync, no full-page writes. */
  durable: boolean;
}

/** initdb and postgres refuse to run as root; as root we run them as the `postgres` OS user. */
const runAsOwner = process.getuid?.() === 0;

let owner: { uid: number; gid: number } | undefined;

function ownerIds(): { uid: number; gid: number } {
  if (!owner) {
    try {
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      owner = { uid: id('-u'), gid: id('-g') };
    } catch {
      throw new Error('running as root needs an OS user "postgres" to own clusters (Debian\'s postgresql package creates it)');
    }
  }
  return owner;
}

/** Gives a file or folder we created to the cluster's owner when we run as root. */
function chownToOwner(file: string): void {
  if (runAsOwner) chownSync(file, ownerIds().uid, ownerIds().gid);
}

function ownerCommand(file: string, args: string[]): [string, string[]] {
  return runAsOwner ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

export class LocalCluster {
  readonly dataDir: string;
  readonly logFile: string;

  constructor(readonly options: ClusterOptions) {
    this.dataDir = path.join(options.dir, 'data');
    this.logFile = path.join(options.dir, 'server.log');
  }

  get url(): string {
    return `postgresql://postgres:${encodeURIComponent(this.options.password)}@127.0.0.1:${this.options.port}/postgres`;
  }

  private async run(file: string, args: string[]): Promise<void> {
    const [cmd, argv] = ownerCommand(file, args);
    await execa(cmd, argv, { stdin: 'ignore' });
  }

  /** Runs initdb when the folder holds no cluster yet. Returns whether it created one. */
  async ensureInitialized(): Promise<boolean> {
    if (existsSync(path.join(this.dataDir, 'PG_VERSION'))) return false;
    mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    chownToOwner(this.options.dir);
    if (runAsOwner && (await execa('runuser', ['-u', 'postgres', '--', 'test', '-w', this.options.dir], { reject: false })).exitCode !== 0) {
      throw new Error(`the OS user "postgres" cannot write ${this.options.dir}: make its parent folders traversable (chmod o+x)`);
    }
    const pwfile = path.join(this.options.dir, '.pwfile');
    writeFileSync(pwfile, `${this.options.password}\n`, { mode: 0o600 });
    chownToOwner(pwfile);
    try {
      await this.run(pgBin('initdb'), [
        '-D', this.dataDir,
        '-U', 'postgres',
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '-E', 'UTF8',
        '--locale=C.UTF-8',
        ...(this.options.durable ? [] : ['--no-sync']),
      ]);
    } finally {
      rmSync(pwfile, { force: true });
    }
    writeFileSync(path.join(this.dataDir, 'postgresql.conf'), "\ninclude_if_exists = 'pggit-ops.conf'\n", { flag: 'a' });
    return true;
  }

  /** Settings we own, rewritten before every start so a changed port takes effect. */
  private writeSettings(): void {
    const settings = [
      `port = ${this.options.port}`,
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = ''",
      ...(this.options.durable ? [] : ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off']),
    ];
    const file = path.join(this.dataDir, 'pggit-ops.conf');
    writeFileSync(file, `# written by pggit-ops on every start\n${settings.join('\n')}\n`);
    chownToOwner(file);
  }

  async isRunning(): Promise<boolean> {
    const [cmd, argv] = ownerCommand(pgBin('pg_ctl'), ['status', '-D', this.dataDir]);
    const result = await execa(cmd, argv, { reject: false, stdin: 'ignore' });
    return result.exitCode === 0;
  }

  async start(): Promise<void> {
    this.writeSettings();
    await this.run(pgBin('pg_ctl'), ['start', '-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60']);
  }

  async stop(): Promise<void> {
    await this.run(pgBin('pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'fast', '-w']);
  }

  /** For exit handlers, where nothing asynchronous runs any more. */
  stopSync(): void {
    const [cmd, argv] = ownerCommand(pgBin('pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate', '-w']);
    try {
      execFileSync(cmd, argv, { stdio: 'ignore' });
    } catch {
      // already stopped
    }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
