/**
 * Removes secret values from text the agent sends. Every place a value occurs is masked, overlapping ones as one
 * span, so no part of a secret shows even when two secrets overlap.
 *
 * `StreamRedactor` handles output that arrives in pieces: a value split across two reads is still caught, because a
 * piece that ends with the start of a secret (`…hun` of `hunter2`) keeps that start back until the next piece or the
 * end of the stream shows whether the secret follows. Anything else is passed on at once: output is held no longer
 * than it must be, and what a stream sends is exactly what redacting all of it at once would give.
 *
 * @example
 * const r = new StreamRedactor(new Redactor(['hunter2']));
 * r.push('pass: hun'); // 'pass: '
 * r.push('ter2\n') + r.end(); // '***\n'
 */
export const MASK = '***';

/** Values shorter than this are not redacted (they would mask ordinary words); the agent warns about them. */
export const MIN_SECRET_LENGTH = 3;

export class Redactor {
  /** The values masked, longest first. */
  readonly values: string[];

  constructor(values: Iterable<string>) {
    // Each line of a multi-line secret (a private key, say) is masked on its own too: a step that prints the lines
    // one by one, or only one of them, must not show them either.
    const all = [...values].flatMap((value) => [value, ...(value.includes('\n') ? value.split('\n').map((line) => line.replace(/\r$/, '')) : [])]);
    this.values = [...new Set(all.filter((v) => v.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = '';
    let done = 0;
    for (const [start, end] of this.spans(text)) {
      out += text.slice(done, start) + MASK;
      done = end;
    }
    return done === 0 ? text : out + text.slice(done);
  }

  /** Where secrets occur in `text`: `[start, end)` spans in order, overlapping occurrences merged into one. */
  spans(text: string): Array<[number, number]> {
    const found: Array<[number, number]> = [];
    for (const value of this.values) {
      for (let at = text.indexOf(value); at !== -1; at = text.indexOf(value, at + 1)) found.push([at, at + value.length]);
    }
    found.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const span of found) {
      const last = merged.at(-1);
      if (last && span[0] < last[1]) last[1] = Math.max(last[1], span[1]);
      else merged.push([span[0], span[1]]);
    }
    return merged;
  }
}

export class StreamRedactor {
  #redactor: Redactor;
  /** Unsent text (not yet redacted): it may be the start of a secret the next piece completes. */
  #held = '';

  constructor(redactor: Redactor) {
    this.#redactor = redactor;
  }

  /** Text that is safe to send now: all of it but a tail that may be the start of a secret. */
  push(text: string): string {
    const raw = this.#held + text;
    let cut = raw.length - partialSecretAtEnd(raw, this.#redactor.values);
    // Never cut through a secret that is already whole: the cut moves to its start (spans do not overlap).
    for (const [start, end] of this.#redactor.spans(raw)) if (start < cut && cut < end) cut = start;
    this.#held = raw.slice(cut);
    return this.#redactor.redact(raw.slice(0, cut));
  }

  /** Whatever is held back, once the stream has ended. */
  end(): string {
    const rest = this.#redactor.redact(this.#held);
    this.#held = '';
    return rest;
  }
}

/**
 * The length of the longest tail of `text` that some value starts with (and that is shorter than the value): the
 * characters that cannot be sent until more text shows whether a secret follows.
 */
function partialSecretAtEnd(text: string, values: readonly string[]): number {
  let longest = 0;
  for (const value of values) {
    // Only a tail that begins with the value's first character can be its start: look at those positions only,
    // from the farthest back (the longest tail) forward.
    const first = value[0]!;
    for (let at = text.indexOf(first, Math.max(0, text.length - value.length + 1)); at !== -1; at = text.indexOf(first, at + 1)) {
      const tail = text.length - at;
      if (tail <= longest) break;
      if (value.startsWith(text.slice(at))) {
        longest = tail;
        break;
      }
    }
  }
  return longest;
}
