// The local Temporal dev server of `npm run up`: the official CLI, SQLite file under the data folder.
import { Connection } from '@temporalio/client';
import { execa, type ResultPromise } from 'execa';
import { findTemporalCli } from './tools.ts';

/** Whether a Temporal frontend answers at `address`. */
export async function temporalAnswers(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: '1s' });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

export interface DevServerOptions {
  address: string;
  uiPort: number;
  dbFile: string;
  logFile: string;
}

export class DevServer {
  private constructor(private readonly child: ResultPromise) {}

  /** Starts the dev server and resolves once it answers (or fails with its log's location). */
  static async start(options: DevServerOptions): Promise<DevServer> {
    const [host, port] = options.address.split(':') as [string, string];
    const log = { file: options.logFile, append: true };
    const child = execa(
      findTemporalCli(),
      ['server', 'start-dev', '--ip', host, '--port', port, '--ui-port', String(options.uiPort),
       '--db-filename', options.dbFile, '--log-level', 'warn'],
      { stdin: 'ignore', stdout: log, stderr: log, reject: false },
    );
    let exit: string | undefined;
    void child.then((r) => (exit = r.failed ? r.shortMessage : `exited with code ${r.exitCode}`));
    const deadline = Date.now() + 60_000;
    while (!(await temporalAnswers(options.address))) {
      if (exit !== undefined || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Temporal dev server did not come up on ${options.address} (${exit ?? 'timed out after 60 s'}); see ${options.logFile}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return new DevServer(child);
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.child;
  }
}
