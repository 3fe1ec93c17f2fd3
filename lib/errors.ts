/**
 * The one catalog of BitEnvoy errors.
 *
 * Every error a user or operator can see is a {@link BitEnvoyError} with a stable `code` (`BE_…`), an optional HTTP
 * status, and a message that says what was wrong, where, what was expected and how to fix it. The hub renders it as
 * the JSON envelope `{ error: { code, message, details? } }`; the CLI prints the message and maps it to an exit code.
 *
 * @example
 * throw new BitEnvoyError('BE_JOB_CLAIMED', 'job j_123 was already claimed by this agent', { status: 409 });
 */

import { withoutCredentials } from './redact-url.js';

export const ERROR_CODES = {
  /** A request body is not valid JSON or does not match the expected shape. */
  BE_BAD_REQUEST: 400,
  /** A request body is larger than the endpoint accepts. */
  BE_BODY_TOO_LARGE: 413,
  /** No credential, or a credential the hub does not know. */
  BE_UNAUTHORIZED: 401,
  /** An enrollment token that is unknown, already used or expired. */
  BE_ENROLL_TOKEN_INVALID: 401,
  /** The thing asked for does not exist (or belongs to someone else: never say which). */
  BE_NOT_FOUND: 404,
  /** A job that another agent, or this agent, already claimed. */
  BE_JOB_CLAIMED: 409,
  /** A job that already reached a final state. */
  BE_JOB_FINISHED: 409,
  /** Events or log chunks that skip a sequence number: resend from `details.expectedSeq`. */
  BE_SEQ_GAP: 409,
  /** A deployment request the configuration cannot satisfy (unknown repository, environment, no agents…). */
  BE_DEPLOY_REJECTED: 422,
  /** A deployment for a repository the config in force does not have (`repositories/<owner>/<name>.yml`). */
  BE_REPOSITORY_NOT_CONFIGURED: 422,
  /** A guard rail of the environment holds the deployment back: a lock, the promotion order (`after:`). */
  BE_GUARD_RAIL: 409,
  /** A git ref that does not exist in the application repository. */
  BE_REF_NOT_FOUND: 422,
  /** The config repo could not be read, or no valid config has ever been loaded. */
  BE_CONFIG_UNAVAILABLE: 503,
  /** A config file that does not validate. */
  BE_CONFIG_INVALID: 422,
  /** The instruction file (bitenvoy.yml) is missing or invalid. */
  BE_INSTRUCTIONS_INVALID: 422,
  /** The agent's local allowlist refused a job. */
  BE_NOT_ALLOWED: 403,
  /** A status-page action that failed the cross-site checks: its Origin (or Referer) or its CSRF token. */
  BE_FORBIDDEN: 403,
  /** A git operation failed. */
  BE_GIT: 502,
  /** A name or resource that already exists (e.g. an agent name). */
  BE_CONFLICT: 409,
  /** The webhook path was called but the hub runs without GitHub App credentials. */
  BE_GITHUB_NOT_CONFIGURED: 404,
  /** Cloud identity evidence from a provider the hub has no trust configured for. */
  BE_CLOUD_NOT_CONFIGURED: 422,
  /** Cloud identity evidence that proves nothing (tampered, wrong signer, audience or nonce, expired, replayed). */
  BE_ATTESTATION_REFUSED: 403,
  /**
   * A build artifact that cannot be had, trusted or used: a tag or file that does not exist, a registry that refuses
   * or answers with bytes that do not match their digest, a manifest of a kind BitEnvoy does not deploy, an archive in
   * an unknown format, truncated, corrupt or refused as hostile (a path or link leading out of the release, a device
   * entry, past the entry or size cap), a download whose source failed or sent more than declared. Messages name the
   * artifact (its URL without credentials).
   */
  BE_ARTIFACT: 422,
  /**
   * An artifact refused because no build attestation proves it came from the repository, workflow and commit the
   * agent's `requireProvenance` names (or that setting cannot be used: no trust root). The message says which check
   * failed for each bundle, and the fix.
   */
  BE_PROVENANCE: 403,
  /** A CLI usage mistake. */
  BE_USAGE: 400,
  /** Anything unexpected. Never carries internals in its message. */
  BE_INTERNAL: 500,
  /** A route that exists, called with a method it does not accept. */
  BE_METHOD_NOT_ALLOWED: 405,
  /** A request body of a type the endpoint does not take (e.g. a webhook that is not `application/json`). */
  BE_UNSUPPORTED_MEDIA_TYPE: 415,
  /** A webhook delivery whose `x-hub-signature-256` does not match its body and the App's webhook secret. */
  BE_SIGNATURE_INVALID: 401,
  /**
   * Too many requests (log or event posts past the agent's budget) or too many wrong tokens from one address:
   * wait `Retry-After` seconds (also `details.retryAfterSeconds`) and send again.
   */
  BE_RATE_LIMITED: 429,
  /** The hub is busy with other work of this kind (e.g. webhook bodies in flight): try again after `Retry-After`. */
  BE_BUSY: 503,
  /** The hub's store was written by a newer release (its schema version is unknown here). */
  BE_STORE_NEWER: 503,
  /**
   * The hub's PostgreSQL store cannot be used: not reachable, the user or password refused, no such database, TLS
   * refused, the server shutting down. The message names which, and the fix.
   */
  BE_STORE_UNAVAILABLE: 503,
  /**
   * The agent's service could not be installed, removed, upgraded or restarted (`bitenvoy agent install|uninstall|
   * upgrade`): not run as root, a service-manager command that failed, a release whose checksum does not match, a new
   * executable that did not start (rolled back). The message names what failed and the fix.
   */
  BE_SERVICE: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorOptions {
  /** HTTP status; defaults to the code's status in {@link ERROR_CODES}. */
  status?: number;
  /** Machine-readable details, safe to show to the caller (never secrets). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class BitEnvoyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BitEnvoyError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code];
    this.details = options.details;
  }
}

/** The JSON envelope every hub error is answered with. */
export interface ErrorEnvelope {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Turns any thrown value into the envelope and status the hub answers with; unknown errors hide their internals. */
export function toErrorEnvelope(err: unknown): { status: number; body: ErrorEnvelope } {
  if (err instanceof BitEnvoyError) {
    // Every answer passes here: a URL quoted in a message (a git error, a configured URL) loses its credentials.
    const body: ErrorEnvelope = { error: { code: err.code, message: withoutCredentials(err.message) } };
    if (err.details) body.error.details = err.details;
    return { status: err.status, body };
  }
  return {
    status: 500,
    body: { error: { code: 'BE_INTERNAL', message: 'internal error; the hub log has the details' } },
  };
}

/** True when the value is a BitEnvoyError with the given code. */
export function isErrorCode(err: unknown, code: ErrorCode): err is BitEnvoyError {
  return err instanceof BitEnvoyError && err.code === code;
}
