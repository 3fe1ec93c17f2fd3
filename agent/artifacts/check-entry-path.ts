/**
 * The path rules of an artifact's entries and symlink targets, checked on the names alone (the release writer adds
 * the rules that need the entries before: links already written, directories, files).
 *
 * An entry's path must be relative, without `..`, backslashes or control characters. A symlink's target must be
 * relative and stay inside the release; it may climb (`../lib/x`) only before naming anything, so the operating
 * system, which follows each name as it meets it, resolves it exactly as we judged it here: `a/../..` would go up
 * from wherever `a` really points, not from where `a` is.
 *
 * @example
 * checkEntryPath('./site/index.html'); // ['site', 'index.html']
 * checkLinkTarget('bin/cli', ['bin', 'cli'], '../lib/cli.js'); // passes
 */
import { refuseEntry, showName } from './artifact-error.js';

/** Longest path and path segment most file systems take, in UTF-8 bytes. */
const MAX_PATH_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;

// C0, DEL and C1: a name carrying them is a trick (a newline forging a log line, NUL truncating the name in C).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const RELATIVE_FIX = 'rebuild the artifact with relative paths';

/** Refusals shared by entry names and link targets: what makes a path not a plain relative POSIX path. */
function refuseForeignPath(entry: string, path: string, what: string): void {
  if (path === '') throw refuseEntry(entry, `has an empty ${what}`, 'rebuild the artifact with a tool that names every entry');
  if (CONTROL.test(path)) {
    throw refuseEntry(entry, `has a control character in its ${what}`, 'rename the file in the build so its name is plain text');
  }
  if (path.startsWith('\\\\') || path.startsWith('//')) {
    throw refuseEntry(entry, `has a network (UNC) ${what}, which would land outside the release`, RELATIVE_FIX);
  }
  if (/^[A-Za-z]:/.test(path)) {
    throw refuseEntry(entry, `has a Windows drive ${what} (\`${path.slice(0, 2)}\`), which would land outside the release`, RELATIVE_FIX);
  }
  if (path.includes('\\')) {
    throw refuseEntry(entry, `has a backslash in its ${what} (a Windows separator, which this agent does not take)`, 'rebuild the artifact on a tool that writes `/` separators');
  }
  if (path.startsWith('/')) throw refuseEntry(entry, `has an absolute ${what}, which would land outside the release`, RELATIVE_FIX);
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw refuseEntry(entry, `has a ${what} longer than ${MAX_PATH_BYTES} bytes`, 'shorten the paths in the build');
  }
}

/**
 * The entry's path as segments under the release root (`[]` for the root itself: `./` in `tar -C dir .` output).
 * `entry` and `what` name the entry refused when the path is another's (a hard link's target).
 *
 * @example
 * checkEntryPath('a//b/./c/'); // ['a', 'b', 'c']
 */
export function checkEntryPath(name: string, entry = name, what = 'path'): string[] {
  refuseForeignPath(entry, name, what);
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    const where = entry === name ? '' : ` \`${showName(name)}\``;
    throw refuseEntry(entry, `would land outside the release (\`..\` is not allowed in an artifact's paths${where})`, RELATIVE_FIX);
  }
  if (segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) {
    throw refuseEntry(entry, `has a ${what} segment longer than ${MAX_SEGMENT_BYTES} bytes, which file systems refuse`, 'shorten the file names in the build');
  }
  return segments;
}

/**
 * Refuses a symlink target that is absolute, or that resolves outside the release from the link's own directory.
 *
 * @example
 * checkLinkTarget('a', ['a'], '/tmp'); // throws: an absolute target
 */
export function checkLinkTarget(entry: string, linkSegments: string[], target: string): void {
  refuseForeignPath(entry, target, 'link target');
  const parts = target.split('/').filter((s) => s !== '' && s !== '.');
  const ups = parts.findIndex((s) => s !== '..');
  const climbs = ups === -1 ? parts.length : ups;
  if (parts.slice(climbs).includes('..')) {
    throw refuseEntry(entry, `is a symlink to \`${showName(target)}\`, which climbs (\`..\`) after naming a directory`, 'point the link at the normalized path (e.g. `../lib/x`, not `lib/../../x`)');
  }
  // The link lives in its parent directory: it can climb as many levels as that directory is deep.
  if (climbs > linkSegments.length - 1) {
    throw refuseEntry(entry, `is a symlink to \`${showName(target)}\`, which leads outside the release`, 'make links point at files inside the artifact');
  }
}
