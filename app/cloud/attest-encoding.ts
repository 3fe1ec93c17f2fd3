/**
 * Strict decoding of what agents send as evidence. `Buffer.from(text, 'base64')` skips characters it does not know
 * and never fails, so "the signature decoded" proves nothing; these refuse anything that is not exactly base64 (or
 * base64url), and cap sizes before any parsing or crypto runs on attacker-supplied bytes.
 *
 * @example
 * decodeBase64('aGk=', 'signature', 4096); // Buffer 'hi', or throws EvidenceFormatError
 */

/** Evidence that is not the provider's format. Verifiers turn it into a `malformed` refusal. */
export class EvidenceFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvidenceFormatError';
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Ids that become part of store keys and labels: no `/` (it separates instanceKey parts), no spaces. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Standard base64; line breaks are allowed (IMDS and `base64` wrap lines), nothing else is. */
export function decodeBase64(text: unknown, what: string, maxBytes: number): Buffer {
  if (typeof text !== 'string') throw new EvidenceFormatError(`${what} is missing (expected base64 text)`);
  const compact = text.replace(/\r?\n/g, '');
  if (compact.length > Math.ceil(maxBytes / 3) * 4) throw new EvidenceFormatError(`${what} is larger than ${maxBytes} bytes`);
  if (!BASE64.test(compact) || compact.length % 4 !== 0) throw new EvidenceFormatError(`${what} is not valid base64`);
  return Buffer.from(compact, 'base64');
}

/** One unpadded base64url segment, as in a JWT. */
export function decodeBase64Url(text: string, what: string): Buffer {
  if (!BASE64URL.test(text) || text.length % 4 === 1) throw new EvidenceFormatError(`${what} is not valid base64url`);
  return Buffer.from(text, 'base64url');
}

/** A JSON object (not an array, string or null). */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new EvidenceFormatError(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EvidenceFormatError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** A string field safe to use as an account or instance id, or undefined when absent, empty or odd. */
export function safeId(value: unknown): string | undefined {
  return typeof value === 'string' && SAFE_ID.test(value) ? value : undefined;
}

/** A nested object field, or undefined. */
export function objectField(value: unknown, field: string): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const inner = (value as Record<string, unknown>)[field];
  return typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? (inner as Record<string, unknown>) : undefined;
}
