/**
 * Writes an archive's entries under a fresh directory, applying every rule about where an entry may land — for tar
 * and zip alike. It keeps a map of every path it wrote (file, directory or symlink): the directory was empty when it
 * started, so the map is exactly what is on disk, and an entry is judged against it before anything is touched.
 * Files are opened with O_EXCL|O_NOFOLLOW besides, so a link on disk that the map missed still cannot be written
 * through.
 *
 * Modes: a file keeps its permission bits (0755 stays executable), setuid/setgid/sticky are dropped, owner and
 * group are ignored, times are not kept (everything gets the unpack time). A directory keeps its bits plus u+rwx, so
 * the agent can always prune the release later; directory modes are applied last, deepest first, so a read-only
 * directory does not stop its own entries from being written.
 *
 * @example
 * const writer = new ReleaseWriter(tempDir, { maxEntries: 100_000, maxBytes: 4 * 2 ** 30 });
 * for await (const entry of readTar(stream, 'site.tar')) await writer.write(entry);
 * await writer.finish();
 */
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import type { ArchiveEntry, UnpackLimits } from './archive-entry.js';
import { refuseEntry } from './artifact-error.js';
import { checkEntryPath, checkLinkTarget } from './check-entry-path.js';

type Written = 'file' | 'directory' | 'symlink';

// O_NOFOLLOW does not exist on Windows; O_EXCL alone already refuses an existing link there.
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
// On file systems that fold case (macOS, Windows by default) `A` and `a` are one path: judge them as one.
const FOLDS_CASE = process.platform === 'darwin' || process.platform === 'win32';
const ROOT = '';

function keyOf(segments: string[]): string {
  const path = segments.join('/');
  return FOLDS_CASE ? path.normalize('NFC').toLowerCase() : path;
}

export class ReleaseWriter {
  #root: string;
  #limits: UnpackLimits;
  #written = new Map<string, Written>();
  #directoryModes = new Map<string, { segments: string[]; mode: number }>();
  entries = 0;
  bytes = 0;

  constructor(root: string, limits: UnpackLimits) {
    this.#root = root;
    this.#limits = limits;
    this.#directoryModes.set(ROOT, { segments: [], mode: 0o755 });
  }

  /** Writes one entry, or throws a `BE_ARTIFACT` refusal naming it. */
  async write(entry: ArchiveEntry): Promise<void> {
    this.#checkCancelled();
    this.entries += 1;
    if (this.entries > this.#limits.maxEntries) {
      throw refuseEntry(entry.name, `is past the cap of ${this.#limits.maxEntries} entries an artifact may hold`, 'pack fewer files into the artifact, or raise the cap');
    }
    if (entry.type === 'unsupported') {
      throw refuseEntry(entry.name, `is ${entry.typeName ?? 'of an unknown type'}, which an artifact may not contain`, 'leave devices, FIFOs and special entries out of the archive');
    }
    const segments = checkEntryPath(entry.name);
    if (segments.length === 0) {
      if (entry.type !== 'directory') throw refuseEntry(entry.name, 'names the release root itself but is not a directory', 'rebuild the artifact with named files');
      this.#directoryModes.set(ROOT, { segments, mode: directoryMode(entry.mode) });
      return;
    }
    await this.#makeParents(entry.name, segments);
    const key = keyOf(segments);
    const before = this.#written.get(key);
    if (before === 'directory' && entry.type === 'directory') {
      this.#directoryModes.set(key, { segments, mode: directoryMode(entry.mode) });
      return;
    }
    const path = join(this.#root, ...segments);
    if (before !== undefined) {
      // Only a file may replace a file (as `tar -r` appends a newer copy); a directory or a link never gets replaced.
      if (before !== 'file' || entry.type !== 'file') {
        throw refuseEntry(entry.name, `appears again as a ${entry.type} where the archive already wrote a ${before}`, 'rebuild the artifact with each path once');
      }
      await unlink(path);
    }
    try {
      await this.#create(entry, segments, key, path);
    } catch (err) {
      throw withEntry(err, entry.name);
    }
  }

  /** Applies directory modes, deepest first (a read-only directory last), once every entry is written. */
  async finish(): Promise<void> {
    const directories = [...this.#directoryModes.values()].sort((a, b) => b.segments.length - a.segments.length);
    for (const { segments, mode } of directories) await chmod(join(this.#root, ...segments), mode);
  }

  async #create(entry: ArchiveEntry, segments: string[], key: string, path: string): Promise<void> {
    switch (entry.type) {
      case 'directory':
        await mkdir(path, { mode: 0o700 });
        this.#written.set(key, 'directory');
        this.#directoryModes.set(key, { segments, mode: directoryMode(entry.mode) });
        return;
      case 'symlink':
        checkLinkTarget(entry.name, segments, entry.linkTarget);
        await symlink(entry.linkTarget, path);
        this.#written.set(key, 'symlink');
        return;
      case 'hardlink': {
        const target = checkEntryPath(entry.linkTarget, entry.name, 'hard link target');
        if (this.#written.get(keyOf(target)) !== 'file') {
          throw refuseEntry(entry.name, `is a hard link to \`${target.join('/')}\`, which is not a regular file written earlier from the archive`, 'rebuild the artifact so hard links point at files it contains, or without hard links');
        }
        await link(join(this.#root, ...target), path);
        this.#written.set(key, 'file');
        return;
      }
      default:
        await this.#writeFile(entry, path);
        this.#written.set(key, 'file');
    }
  }

  async #writeFile(entry: ArchiveEntry, path: string): Promise<void> {
    const file = await open(path, CREATE_NEW, 0o600);
    try {
      for await (const chunk of entry.body()) {
        this.#checkCancelled();
        // Counted on what is written, not on what the archive declared: a zip bomb declares small sizes.
        if (this.bytes + chunk.length > this.#limits.maxBytes) {
          throw refuseEntry(entry.name, `takes the unpacked artifact past its cap of ${this.#limits.maxBytes} bytes`, 'ship a smaller artifact, or raise the cap', { bytes: this.bytes });
        }
        this.bytes += chunk.length;
        for (let done = 0; done < chunk.length; ) done += (await file.write(chunk, done)).bytesWritten;
      }
      // Permission bits only: setuid, setgid and sticky never come from an artifact. chmod ignores the umask.
      await file.chmod((entry.mode ?? 0o644) & 0o777);
    } finally {
      await file.close();
    }
  }

  /** Directories between the root and the entry: written ones must be directories, missing ones are made (0755). */
  async #makeParents(name: string, segments: string[]): Promise<void> {
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = segments.slice(0, depth);
      const written = this.#written.get(keyOf(parent));
      if (written === 'directory') continue;
      if (written === 'symlink') {
        throw refuseEntry(name, `would be written through \`${parent.join('/')}\`, a symlink of the archive`, 'rebuild the artifact so no entry lies under a link');
      }
      if (written === 'file') {
        throw refuseEntry(name, `would need \`${parent.join('/')}\`, a file of the archive, to be a directory`, 'rebuild the artifact with each path once');
      }
      await mkdir(join(this.#root, ...parent), { mode: 0o700 }).catch((err: unknown) => {
        throw withEntry(err, name);
      });
      this.#written.set(keyOf(parent), 'directory');
      this.#directoryModes.set(keyOf(parent), { segments: parent, mode: 0o755 });
    }
  }

  #checkCancelled(): void {
    const signal = this.#limits.signal;
    if (signal?.aborted) {
      throw new BitEnvoyError('BE_ARTIFACT', 'unpacking the artifact was cancelled before it finished; nothing was installed', { cause: signal.reason });
    }
  }
}

function directoryMode(mode: number | undefined): number {
  return ((mode ?? 0o755) & 0o777) | 0o700;
}

/** A file-system failure while writing one entry (a name too long for this file system, a full disk) names it. */
function withEntry(err: unknown, name: string): unknown {
  const { code, syscall } = err as { code?: unknown; syscall?: unknown };
  if (err instanceof BitEnvoyError || typeof code !== 'string' || typeof syscall !== 'string') return err;
  return refuseEntry(name, `could not be written: ${syscall} failed with ${code}`, 'check the free space of the agent directory and that its file system takes such names');
}
