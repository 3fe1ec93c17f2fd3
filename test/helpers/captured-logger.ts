/**
 * A real logger (lib/logger.ts, JSON lines, level debug) whose lines are parsed into `lines` for assertions.
 *
 * @example
 * const lines: LogLine[] = [];
 * const log = capturedLogger(lines);
 * expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([…]);
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../lib/logger.js';

export interface LogLine {
  level: number;
  msg: string;
}

export function capturedLogger(lines: LogLine[]): Logger {
  return createLogger({
    name: 'test',
    format: 'json',
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
        done();
      },
    }),
  });
}
