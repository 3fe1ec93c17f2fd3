/**
 * `artifact_unpack_vs_tar`: how fast the agent unpacks a ~100 MB tar.gz (BENCH_ARTIFACT_UNPACK_MB) of mixed files —
 * random bytes that do not compress, text that does, sizes from 1 KiB to 2 MiB, in nested directories — against
 * GNU `tar -xzf` of the same file, 3 runs each, alternating, on the same disk. `ratio` is tar's time over ours
 * (higher is better; 1 would be as fast as tar). Also the process's peak RSS, which stays bounded because entries
 * are streamed, never held.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { unpackArchive } from '../agent/artifacts/unpack-archive.js';
import { percentile } from './percentile.js';

const run = promisify(execFile);
const RUNS = 3;

export interface ArtifactUnpackFigures {
  artifact_unpack_vs_tar: {
    ours_ms_p50: number;
    tar_ms_p50: number;
    ratio: number;
    archive_mb: number;
    expanded_mb: number;
    files: number;
    max_rss_mb: number;
  };
}

/** Writes mixed files under `tree` until their gzipped size should reach about `megabytes`; the file count. */
async function writeMixedTree(tree: string, megabytes: number): Promise<{ files: number; bytes: number }> {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let estimate = 0;
  let files = 0;
  let bytes = 0;
  while (estimate < megabytes * 2 ** 20) {
    const size = Math.floor(1024 * 2 ** (next() * 11)); // 1 KiB to 2 MiB, most of them small
    const folder = join(tree, `pkg-${files % 17}`, `part-${files % 5}`);
    await mkdir(folder, { recursive: true });
    let content: Buffer;
    if (next() < 0.6) {
      content = randomBytes(size);
      estimate += size;
    } else {
      const line = `{"id":${files},"name":"item-${Math.floor(next() * 1e6)}","tags":["a","b"],"ok":true}\n`;
      content = Buffer.from(line.repeat(Math.ceil(size / line.length))).subarray(0, size);
      estimate += size / 8;
    }
    await writeFile(join(folder, `file-${files}.${content[0]! > 127 ? 'bin' : 'json'}`), content, { mode: files % 9 ? 0o644 : 0o755 });
    files += 1;
    bytes += size;
  }
  return { files, bytes };
}

/**
 * Builds the archive in a temporary directory, times both unpackers, removes everything.
 *
 * @example
 * const { artifact_unpack_vs_tar } = await measureArtifactUnpack(10); // a 10 MB archive
 */
export async function measureArtifactUnpack(megabytes = Number(process.env.BENCH_ARTIFACT_UNPACK_MB ?? 100)): Promise<ArtifactUnpackFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-bench-unpack-'));
  try {
    const tree = join(dir, 'tree');
    const { files, bytes } = await writeMixedTree(tree, megabytes);
    const archive = join(dir, 'artifact.tar.gz');
    await run('tar', ['-czf', archive, '-C', tree, '.']);
    await rm(tree, { recursive: true });
    const ours: number[] = [];
    const tar: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const mine = join(dir, `ours-${i}`);
      let started = performance.now();
      const written = await unpackArchive(archive, mine);
      ours.push(performance.now() - started);
      // A fast unpacker that drops files would win this race: it must write every byte tar does.
      if (written.bytes !== bytes) throw new Error(`unpackArchive wrote ${written.bytes} bytes of the ${bytes} archived`);
      await rm(mine, { recursive: true });
      const theirs = join(dir, `tar-${i}`);
      await mkdir(theirs);
      started = performance.now();
      await run('tar', ['-xzf', archive, '-C', theirs]);
      tar.push(performance.now() - started);
      await rm(theirs, { recursive: true });
    }
    const oursP50 = percentile(ours, 50);
    const tarP50 = percentile(tar, 50);
    return {
      artifact_unpack_vs_tar: {
        ours_ms_p50: oursP50,
        tar_ms_p50: tarP50,
        ratio: Math.round((tarP50 / oursP50) * 100) / 100,
        archive_mb: Math.round((await stat(archive)).size / 2 ** 20),
        expanded_mb: Math.round(bytes / 2 ** 20),
        files,
        max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
