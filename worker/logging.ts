// One logger for the worker process (pino, JSON lines on stderr), also used for the Temporal SDK's logs.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { pino, type Logger } from 'pino';

const levels = ['trace', 'debug', 'info', 'warn', 'error'] as const;

export function createLogger(defaultLevel: (typeof levels)[number] = 'info'): Logger {
  const level = process.env.PGGIT_OPS_LOG_LEVEL ?? defaultLevel;
  if (!(levels as readonly string[]).includes(level)) {
    throw new Error(`PGGIT_OPS_LOG_LEVEL=${level}: must be one of ${levels.join(', ')}`);
  }
  return pino({ level, base: { app: 'pggit-ops' } }, pino.destination(2));
}

/** Routes the SDK's own logs (worker state, workflow task failures) into our logger. Call once, first. */
export function installRuntimeLogger(logger: Logger): void {
  const sdkLevel = logger.level.toUpperCase() as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, (entry) => {
      const method = entry.level.toLowerCase() as Lowercase<LogLevel>;
      logger[method]({ sdk: true, ...entry.meta }, entry.message);
    }),
  });
}
