import { pino, type Logger } from 'pino';
import { BitEnvoyError } from './errors.js';
import { withoutCredentials } from './redact-url.js';

export type { Logger };

/** `json`: one JSON object a line, for log collectors. `pretty`: readable lines, for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

/**
 * The log format: `BITENVOY_LOG_FORMAT`, else Probot's `LOG_FORMAT`, else `pretty` when the logs go to a terminal
 * and `json` when they go anywhere else (a file, a pipe, journald).
 *
 * @example
 * logFormat({ BITENVOY_LOG_FORMAT: 'json' }, process.stdout); // 'json', even on a terminal
 */
export function logFormat(env: NodeJS.ProcessEnv, destination: NodeJS.WritableStream): LogFormat {
  for (const name of ['BITENVOY_LOG_FORMAT', 'LOG_FORMAT'] as const) {
    const value = env[name];
    if (!value) continue;
    if (value === 'json' || value === 'pretty') return value;
    throw new BitEnvoyError('BE_USAGE', `${name}=${value}: expected \`json\` or \`pretty\``);
  }
  return (destination as { isTTY?: boolean }).isTTY ? 'pretty' : 'json';
}

/**
 * The one pino root for a BitEnvoy process. Children carry request, delivery or job ids. Tokens, credentials and
 * secret values are redacted wherever they appear under these keys. On a terminal the lines are readable (see
 * {@link logFormat}); colours only there, and not with `NO_COLOR`.
 *
 * @example
 * const log = createLogger({ name: 'hub' });
 * log.child({ requestId }).info({ jobId }, 'job claimed');
 */
export function createLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream; format?: LogFormat }): Logger {
  const destination = options.destination ?? process.stdout;
  const format = options.format ?? logFormat(process.env, destination);
  const color = Boolean((destination as { isTTY?: boolean }).isTTY) && !process.env.NO_COLOR;
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
      // Every line passes here: a URL in a message, an error or a field never shows its credentials.
      hooks: { streamWrite: withoutCredentials },
    },
    format === 'pretty' ? lazyPrettyStream(destination, color) : destination,
  );
}

/**
 * The readable-lines stream, its formatter loaded only when it is used (a service logging JSON never loads it: the
 * agent's idle memory is budgeted). Lines written before it has loaded wait, in order; the pending load keeps the
 * process alive until they are out.
 */
function lazyPrettyStream(destination: NodeJS.WritableStream, color: boolean): { write(chunk: string): boolean } {
  let stream: { write(chunk: string): boolean } | undefined;
  const waiting: string[] = [];
  void import('./pretty-log.js').then(({ prettyLogStream }) => {
    stream = prettyLogStream(destination, { color });
    for (const chunk of waiting.splice(0)) stream.write(chunk);
  });
  return {
    write(chunk: string): boolean {
      if (stream) return stream.write(chunk);
      waiting.push(chunk);
      return true;
    },
  };
}

/** A logger that drops everything, for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
