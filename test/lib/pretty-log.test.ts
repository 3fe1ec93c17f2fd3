import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { formatLogLine, prettyLogStream } from '../../lib/pretty-log.js';
import { logFormat } from '../../lib/logger.js';

const at = new Date(2026, 0, 2, 3, 4, 5, 6).getTime(); // local time 03:04:05.006

describe('formatLogLine', () => {
  it('shows time, level, name, message, then the other fields as key=value', () => {
    const line = JSON.stringify({ level: 30, time: at, pid: 1, hostname: 'h', name: 'bitenvoy-hub', jobId: 'job_1', attempt: 2, labels: { role: 'web' }, why: 'two words', msg: 'job claimed' });
    expect(formatLogLine(line, false)).toBe('03:04:05.006 INFO  bitenvoy-hub: job claimed jobId=job_1 attempt=2 labels={"role":"web"} why="two words"');
  });

  it('puts an error stack under the line, indented', () => {
    const line = JSON.stringify({ level: 50, time: at, name: 'n', msg: 'failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x (y.js:1:1)' } });
    expect(formatLogLine(line, false)).toBe('03:04:05.006 ERROR n: failed\n    Error: boom\n        at x (y.js:1:1)');
  });

  it('colours the level only when asked', () => {
    const line = JSON.stringify({ level: 40, time: at, name: 'n', msg: 'm' });
    expect(formatLogLine(line, true)).toContain('\u001b[33mWARN \u001b[0m');
    expect(formatLogLine(line, false)).not.toContain('\u001b');
  });

  it('drops control characters from messages and values (they carry text from the hub and agents)', () => {
    const line = JSON.stringify({ level: 30, time: at, name: 'n', msg: 'step failed\u001b[2K\r✔ success', message: 'x\u001b]0;t\u0007y' });
    expect(formatLogLine(line, false)).toBe('03:04:05.006 INFO  n: step failed✔ success message=xy');
  });

  it('passes a line that is not JSON through, without control characters', () => {
    expect(formatLogLine('plain \u001b[31mtext', false)).toBe('plain text');
  });
});

describe('prettyLogStream', () => {
  it('takes what pino writes, redaction included', () => {
    const written: string[] = [];
    const log = pino({ name: 'x', redact: ['token'] }, prettyLogStream({ write: (s: string) => written.push(s) > 0 } as unknown as NodeJS.WritableStream, { color: false }));
    log.info({ token: 'secret' }, 'hello');
    expect(written.join('')).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}x: hello token=\[Redacted\]\n$/);
  });
});

describe('logFormat', () => {
  const tty = { isTTY: true } as unknown as NodeJS.WritableStream;
  const pipe = {} as NodeJS.WritableStream;
  it('is pretty on a terminal, json elsewhere, and either when asked', () => {
    expect(logFormat({}, tty)).toBe('pretty');
    expect(logFormat({}, pipe)).toBe('json');
    expect(logFormat({ BITENVOY_LOG_FORMAT: 'json' }, tty)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'pretty' }, pipe)).toBe('pretty');
    expect(logFormat({ BITENVOY_LOG_FORMAT: 'json', LOG_FORMAT: 'pretty' }, tty)).toBe('json');
    expect(() => logFormat({ LOG_FORMAT: 'yaml' } as unknown as NodeJS.ProcessEnv, tty)).toThrow('LOG_FORMAT=yaml: expected `json` or `pretty`');
  });
});
