/**
 * The CLI's Server-Sent Events parser: the same messages however the stream is cut into chunks, every line end the
 * format allows, comments and unknown fields skipped, and an event past the size cap refused.
 */
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_CHARS, SseParser, type SseMessage } from '../../cli/commands/sse-parser.js';
import { BitEnvoyError } from '../../lib/errors.js';

function parseAll(chunks: string[]): SseMessage[] {
  const parser = new SseParser('http://hub.test');
  return chunks.flatMap((chunk) => parser.push(chunk));
}

const STREAM = ': keepalive\r\nevent: summary\r\ndata: {"a":1}\r\n\r\nevent:end\rdata:{}\r\r: hi\nid: 7\nretry: 10\ndata: line 1\ndata\ndata: line 3\nunknown: x\n\nevent: lonely\n\n';
const MESSAGES: SseMessage[] = [
  { event: 'summary', data: '{"a":1}' },
  { event: 'end', data: '{}' },
  { event: 'message', data: 'line 1\n\nline 3' },
];

describe('SseParser', () => {
  it('reads every message, with CRLF, CR and LF line ends, comments and fields it does not use', () => {
    expect(parseAll([STREAM])).toEqual(MESSAGES);
  });

  it('reads the same messages whichever two chunks the stream comes in (a CRLF split included)', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) expect(parseAll([STREAM.slice(0, cut), STREAM.slice(cut)]), `cut at ${cut}`).toEqual(MESSAGES);
  });

  it('reads the same messages a character at a time', () => {
    expect(parseAll([...STREAM])).toEqual(MESSAGES);
  });

  it('keeps a message without its blank line until the blank line comes', () => {
    const parser = new SseParser('http://hub.test');
    expect(parser.push('event: summary\ndata: {}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ event: 'summary', data: '{}' }]);
  });

  it('takes an event of exactly the cap, and refuses one character more, in one line or many', () => {
    const fits = 'x'.repeat(MAX_EVENT_CHARS - 1);
    expect(parseAll([`data: ${fits}\n\n`])).toEqual([{ event: 'message', data: fits }]);
    expect(() => parseAll([`data: ${fits}x\n\n`])).toThrow(BitEnvoyError);
    // A line that never ends is refused as it grows, before its end arrives.
    const parser = new SseParser('http://hub.test');
    parser.push('data: ');
    const chunk = 'x'.repeat(64 * 1024);
    expect(() => {
      for (let i = 0; i < 200; i++) parser.push(chunk);
    }).toThrow(`the hub at http://hub.test sent an event of more than ${MAX_EVENT_CHARS} characters`);
    // Many short data lines count together.
    const lines = `data: ${'y'.repeat(1023)}\n`.repeat(1025);
    expect(() => parseAll([lines, '\n'])).toThrow(BitEnvoyError);
  });
});
