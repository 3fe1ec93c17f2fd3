import { describe, expect, it } from 'vitest';
import { BitEnvoyError } from '../../../lib/errors.js';
import { formatOciReference, parseOciReference } from '../../../lib/oci/parse-oci-reference.js';
import { parseWwwAuthenticate } from '../../../lib/oci/parse-www-authenticate.js';
import { seeded } from '../../helpers/seeded-random.js';

// What users and registries send is hostile input, and these parsers are written here rather than taken from a
// library: they are fuzzed from seeds that name a failure's replay. Inputs are valid texts with a few random edits,
// so near-misses are common rather than noise that fails on the first character.
const REFERENCES = ['ghcr.io/acme/shop-site:1.2.0', `registry.example.com:5000/team/app@sha256:${'a'.repeat(64)}`, 'localhost:5000/x:tag', '[::1]:5000/a.b__c--d:1'];
const REFERENCE_PIECES = ['ghcr.io', 'localhost', ':5000', '/', 'Site', '..', '.', '_', '__', '-', ':', '@', 'sha256:', '1.2.0', '[::1]', ' ', '\n', '%2e', 'é'];
const CHALLENGES = ['Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/site:pull"', 'Basic realm="r"', 'Bearer realm="a\\"b",error="insufficient_scope"'];
const CHALLENGE_PIECES = ['Bearer', 'Basic', ' ', ',', '=', '"', '\\', 'realm', 'scope', 'https://a.test/t', '\r\n', '\u0000', 'é', '""'];

/** A valid text with 0 to 3 random edits: a piece inserted, a character deleted, or two characters swapped. */
function mutate(next: () => number, valid: string[], pieces: string[]): string {
  let text = valid[Math.floor(next() * valid.length)]!;
  const edits = Math.floor(next() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * (text.length + 1));
    const kind = next();
    if (kind < 0.5) text = text.slice(0, at) + pieces[Math.floor(next() * pieces.length)] + text.slice(at);
    else if (kind < 0.8) text = text.slice(0, at) + text.slice(at + 1);
    else text = text.slice(0, at) + text.slice(at + 1, at + 2) + text.slice(at, at + 1) + text.slice(at + 2);
  }
  return text;
}

describe('fuzzing the OCI parsers', () => {
  it.each([1, 2, 3])('parseOciReference only ever throws BitEnvoyError, and what it accepts formats back to itself (seed %i)', (seed) => {
    const next = seeded(seed);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const text = mutate(next, REFERENCES, REFERENCE_PIECES);
      let ref;
      try {
        ref = parseOciReference(text);
      } catch (err) {
        expect(err, `seed ${seed}, input ${JSON.stringify(text)}`).toBeInstanceOf(BitEnvoyError);
        continue;
      }
      accepted++;
      expect(formatOciReference(ref), `seed ${seed}`).toBe(text);
      expect(ref.repository, `seed ${seed}, input ${JSON.stringify(text)}`).not.toMatch(/(^|\/)\.{1,2}(\/|$)|[^a-z0-9._/-]/);
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it.each([1, 2, 3])('parseWwwAuthenticate never throws nor yields a control character in a value, and reads some (seed %i)', (seed) => {
    const next = seeded(seed);
    let read = 0;
    for (let i = 0; i < 3000; i++) {
      const text = mutate(next, CHALLENGES, CHALLENGE_PIECES);
      const challenge = parseWwwAuthenticate(text);
      if (challenge) read++;
      for (const value of Object.values(challenge?.params ?? {})) expect(value, `seed ${seed}, input ${JSON.stringify(text)}`).not.toSatisfy((text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f));
    }
    expect(read).toBeGreaterThan(100);
  });
});
