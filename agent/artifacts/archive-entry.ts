/**
 * What the tar and zip readers hand to the release writer: one entry at a time, its content streamed. The readers
 * only decode (and check what the format itself can check: checksums, CRC-32, declared sizes, truncation); every
 * rule about where an entry may land is the writer's, in one place for both formats.
 */

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'unsupported';

export interface ArchiveEntry {
  /** The name as the archive spells it, not yet checked (it is hostile input). */
  name: string;
  type: EntryType;
  /** For `unsupported`: what the entry is, for the refusal ("a character device"). */
  typeName?: string;
  /** Permission bits as the archive gives them (setuid & co. still in); undefined when it gives none. */
  mode: number | undefined;
  /** Declared content bytes of a file. */
  size: number;
  /** A symlink's target or a hard link's earlier entry; '' for other types. */
  linkTarget: string;
  /**
   * The content, streamed in pieces; read it at most once, before asking for the next entry. A reader throws from
   * it when the content is cut short or fails its checks (CRC-32, declared size).
   */
  body(): AsyncIterable<Buffer>;
}

/** A reader of one archive format: its entries in order, then done; `return()` releases the file. */
export type EntryReader = AsyncGenerator<ArchiveEntry, void, undefined>;

/** Caps that hold whatever the archive declares. */
export interface UnpackLimits {
  /** Entries of any type (files, directories, links). */
  maxEntries: number;
  /** Bytes written, counted while they are written (a zip bomb declares small sizes). */
  maxBytes: number;
  signal?: AbortSignal;
}
