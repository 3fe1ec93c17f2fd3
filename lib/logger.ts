import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The one pino root for a BitEnvoy process. Children carry request, delivery or job ids. Tokens, credentials and
 * secret values are redacted wherever they appear under these keys.
 *
 * @example
 * const log = createLogger({ name: 'hub' });
 * log.child({ requestId }).info({ jobId }, 'job claimed');
 */
export function createLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream } ): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: {
        paths: [
          'token',
          'credential',
          'authorization',
          'headers.authorization',
          'req.headers.authorization',
          'privateKey',
          'secrets',
          '*.token',
          '*.credential',
        ],
        censor: '[redacted]',
      },
    },
    options.destination ?? process.stdout,
  );
}

/** A logger that drops everything, for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
