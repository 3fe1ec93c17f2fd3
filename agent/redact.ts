/**
 * Removes secret values from text the agent sends. `StreamRedactor` handles output that arrives in pieces: a value
 * split across two reads is still caught, because the last (longest secret − 1) characters are held back until more
 * text or the end of the stream arrives.
 *
 * @example
 * const r = new StreamRedactor(['hunter2']);
 * r.push('pass: hun') + r.push('ter2\n') + r.end(); // 'pass: ***\n'
 */
export const MASK = '***';

/** Values shorter than this are not redacted (they would mask ordinary words); the agent warns about them. */
export const MIN_SECRET_LENGTH = 3;

export class Redactor {
  readonly values: string[];
  readonly longest: number;

  constructor(values: Iterable<string>) {
    // Each line of a multi-line secret (a private key, say) is masked on its own too: a step that prints the lines
    // one by one, or only one of them, must not show them either.
    const all = [...values].flatMap((value) => [value, ...(value.includes('\n') ? value.split('\n').map((line) => line.replace(/\r$/, '')) : [])]);
    // Longest first, so a secret that contains another is masked whole.
    this.values = [...new Set(all.filter((v) => v.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
    this.longest = this.values[0]?.length ?? 0;
  }

  redact(text: string): string {
    let out = text;
    for (const value of this.values) out = out.split(value).join(MASK);
    return out;
  }
}

export class StreamRedactor {
  #redactor: Redactor;
  #held = '';

  constructor(redactor: Redactor) {
    this.#redactor = redactor;
  }

  /** Text that is safe to send now. */
  push(text: string): string {
    const redacted = this.#redactor.redact(this.#held + text);
    const keep = Math.max(0, this.#redactor.longest - 1);
    if (keep === 0) {
      this.#held = '';
      return redacted;
    }
    this.#held = redacted.slice(-keep);
    return redacted.slice(0, Math.max(0, redacted.length - keep));
  }

  /** Whatever is held back, once the stream has ended. */
  end(): string {
    const rest = this.#redactor.redact(this.#held);
    this.#held = '';
    return rest;
  }
}
