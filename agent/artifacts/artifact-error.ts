/**
 * The errors an archive earns: every refusal is a `BE_ARTIFACT` {@link BitEnvoyError} that names the archive and,
 * when there is one, the entry — shown safely, since an entry's name is hostile text (control characters escaped,
 * long names shortened) — and says how to rebuild the artifact.
 *
 * @example
 * throw refuseEntry('../etc/passwd', 'would land outside the release (`..` is not allowed in an artifact\'s paths)',
 *   'rebuild the artifact with relative paths');
 */
import { BitEnvoyError } from '../../lib/errors.js';

/** Names longer than this are cut in messages: the whole name is no help and may be megabytes of pax header. */
const SHOWN_NAME_CHARS = 200;

/**
 * An entry name as a message may show it: C0/C1 controls, DEL, the bidirectional overrides and backticks escaped as
 * `\xNN` / `\uNNNN`, so a name cannot rewrite the terminal line or the Markdown it is shown in.
 *
 * @example
 * showName('a\u0000b'); // 'a\\x00b'
 */
export function showName(name: string): string {
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point
  const escaped = name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069`]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return escaped.length > SHOWN_NAME_CHARS ? `${escaped.slice(0, SHOWN_NAME_CHARS)}…` : escaped;
}

/**
 * A refusal of one entry: "the archive's entry `<name>` <problem>; <fix>".
 *
 * @example
 * refuseEntry('dev/tty', 'is a character device, which an artifact may not contain', 'leave devices out of the archive');
 */
export function refuseEntry(name: string, problem: string, fix: string, details: Record<string, unknown> = {}): BitEnvoyError {
  return new BitEnvoyError('BE_ARTIFACT', `the archive's entry \`${showName(name)}\` ${problem}; ${fix}`, {
    details: { entry: showName(name), ...details },
  });
}

/**
 * A refusal of the archive as a whole (its format, its end records, its size).
 *
 * @example
 * refuseArchive('site.zip', 'ends before its central directory (the file is truncated)', 'download or build it again');
 */
export function refuseArchive(archive: string, problem: string, fix: string, cause?: unknown): BitEnvoyError {
  return new BitEnvoyError('BE_ARTIFACT', `the archive \`${showName(archive)}\` ${problem}; ${fix}`, {
    details: { archive: showName(archive) },
    cause,
  });
}

/**
 * Errors from the file system (ENOSPC, ENAMETOOLONG…) and zlib (a corrupt deflate stream) become `BE_ARTIFACT` naming
 * the archive; a BitEnvoyError passes unchanged, and anything else (a bug of ours) is rethrown as it is, so tests see it.
 *
 * @example
 * try { await unpack(); } catch (err) { throw asArtifactError(err, 'site.tar.gz'); }
 */
export function asArtifactError(err: unknown, archive: string): unknown {
  if (err instanceof BitEnvoyError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const syscall = (err as { syscall?: unknown } | null)?.syscall;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return refuseArchive(archive, `is corrupt: its compressed data does not decompress (${(err as Error).message})`, 'download or build the artifact again', err);
  }
  if (typeof code === 'string' && typeof syscall === 'string') {
    return refuseArchive(archive, `could not be unpacked: ${syscall} failed with ${code}`, 'check the free space and permissions of the agent directory, then deploy again', err);
  }
  return err;
}
