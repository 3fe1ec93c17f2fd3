/**
 * A Server-Sent Events parser (the `text/event-stream` format of the HTML standard), fed decoded text as it arrives:
 * lines end with CRLF, LF or CR (a CRLF may be split between two chunks); `event:` names the message, `data:` lines are
 * joined with newlines, `:` starts a comment (a keepalive), a blank line ends the message. What the stream sends is
 * the hub's, so one message may hold at most {@link MAX_EVENT_CHARS} characters: a longer one (an endless line) stops
 * the parser with an error instead of growing memory until the process dies.
 *
 * @example
 * const parser = new SseParser('http://hub:3000');
 * parser.push('event: summary\ndata: {"a"'); // []
 * parser.push(':1}\n\n'); // [{ event: 'summary', data: '{"a":1}' }]
 */
import { BitEnvoyError } from '../../lib/errors.js';

/** Most characters one event (its data lines and any line still without an end) may hold: 1 Mi. */
export const MAX_EVENT_CHARS = 1024 * 1024;

export interface SseMessage {
  /** The `event:` field, `message` when absent. */
  event: string;
  data: string;
}

const LINE_END = /\r\n|\r|\n/g;

export class SseParser {
  #source: string;
  /** The start of a line whose end has not arrived yet. */
  #partial = '';
  /** The last chunk ended with CR: an LF starting the next one belongs to it. */
  #afterCR = false;
  #event = '';
  #data: string[] = [];
  #size = 0;

  /** `source` names where the stream comes from, for the error message. */
  constructor(source: string) {
    this.#source = source;
  }

  /** Takes the next piece of the stream; returns the messages it completed, in order. */
  push(text: string): SseMessage[] {
    const messages: SseMessage[] = [];
    let pos = 0;
    if (this.#afterCR && text.startsWith('\n')) pos = 1;
    if (text.length > pos) this.#afterCR = false;
    LINE_END.lastIndex = pos;
    for (let m = LINE_END.exec(text); m; m = LINE_END.exec(text)) {
      const line = this.#partial + text.slice(pos, m.index);
      this.#partial = '';
      pos = m.index + m[0].length;
      if (m[0] === '\r' && pos === text.length) this.#afterCR = true;
      this.#take(line, messages);
    }
    this.#partial += text.slice(pos);
    this.#check(this.#partial.length);
    return messages;
  }

  #take(line: string, messages: SseMessage[]): void {
    if (line === '') {
      if (this.#data.length) messages.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      this.#size = 0;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') {
      this.#data.push(value);
      this.#size += value.length + 1;
    }
    // `id`, `retry` and unknown fields: nothing the follower uses.
    this.#check(0);
  }

  #check(pending: number): void {
    if (this.#size + pending <= MAX_EVENT_CHARS) return;
    throw new BitEnvoyError(
      'BE_INTERNAL',
      `the hub at ${this.#source} sent an event of more than ${MAX_EVENT_CHARS} characters on the deployment's event stream (a summary is a few thousand); is that URL a BitEnvoy hub? Follow the deployment on its status page instead`,
    );
  }
}
