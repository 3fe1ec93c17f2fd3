/**
 * Readable log lines for a person at a terminal, from pino's JSON lines:
 *
 *   14:03:07.412 INFO  bitenvoy-hub: job claimed jobId=job_1a2b agent=web-1
 *
 * Small on purpose (no pretty-printing dependency): the agent's idle memory is budgeted. Every value goes through
 * {@link stripControls}, because log lines carry text from the hub and from agents.
 *
 * @example
 * const log = pino({}, prettyLogStream(process.stdout, { color: true }));
 */
import { stripControls } from './strip-controls.js';

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '36' },
  30: { label: 'INFO ', color: '32' },
  40: { label: 'WARN ', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '35' },
};

// pino's own fields, shown in the line's head or not at all.
const HEAD = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'err']);

/** A stream pino writes JSON lines to; it writes each as one readable line to `destination`. */
export function prettyLogStream(destination: NodeJS.WritableStream, options: { color: boolean }): { write(chunk: string): boolean } {
  return {
    write(chunk: string): boolean {
      return destination.write(
        chunk
          .split('\n')
          .filter(Boolean)
          .map((line) => formatLogLine(line, options.color) + '\n')
          .join(''),
      );
    },
  };
}

/**
 * One pino JSON line as readable text; a line that is not JSON passes through without control characters.
 *
 * @example
 * formatLogLine('{"level":30,"time":0,"name":"hub","msg":"ready","port":3000}', false); // '00:00:00.000 INFO  hub: ready port=3000' (UTC)
 */
export function formatLogLine(line: string, color: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return stripControls(line);
  }
  if (typeof record !== 'object' || record === null) return stripControls(line);
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const level = LEVELS[record.level as number] ?? { label: String(record.level).padEnd(5), color: '0' };
  const time = typeof record.time === 'number' ? clock(new Date(record.time)) : '';
  const fields = Object.entries(record)
    .filter(([key]) => !HEAD.has(key))
    .map(([key, value]) => `${paint('2', `${stripControls(key)}=`)}${show(value)}`);
  const head = [paint('2', time), paint(level.color, level.label), record.name ? `${stripControls(String(record.name))}:` : '', stripControls(String(record.msg ?? ''))];
  let text = [...head.filter(Boolean), ...fields].join(' ');
  const err = record.err as { stack?: unknown; message?: unknown } | undefined;
  if (err && typeof err === 'object') {
    const detail = typeof err.stack === 'string' ? err.stack : String(err.message ?? JSON.stringify(err));
    text += '\n' + stripControls(detail).replace(/^/gm, '    ');
  }
  return text;
}

function clock(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** A value in `key=value`: bare when it is one plain word, else JSON. */
function show(value: unknown): string {
  if (typeof value === 'string' && /^[^\s"=]+$/.test(value)) return stripControls(value);
  return stripControls(JSON.stringify(value) ?? String(value));
}
