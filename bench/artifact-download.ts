/**
 * Artifact download figures (issue 16): a local `node:http` server serves one file of BENCH_ARTIFACT_MB megabytes
 * (default 200) over loopback; `curl -s -o FILE URL` and the agent's downloadArtifact (in a child process, see
 * ./artifact-download-child.ts) each fetch it 3 times, alternating, and the medians are compared.
 *
 *   artifact_download_vs_curl  the agent's throughput ÷ curl's (median of 3 each); target ≥ 0.9. Both include
 *                              their own write to disk; the agent's also its SHA-256, an fsync and the rename
 *   artifact_download_rss_mb   the agent child's peak resident memory over the download; target ≤ 100
 *   artifact_repeat_bytes      bytes a second download of the same artifact transfers; must be 0
 *
 * @example
 * const figures = await measureArtifactDownload(); // { artifact_download_vs_curl: 0.97, … }
 */
import { execFile, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../lib/package-root.js';

export interface ArtifactDownloadFigures {
  artifact_download_vs_curl: number;
  artifact_download_rss_mb: number;
  artifact_repeat_bytes: number;
  /** MB/s of each run, in order. */
  curl_mb_per_s: number[];
  agent_mb_per_s: number[];
  /** The agent child's peak resident memory of each run, MB. */
  agent_rss_mb: number[];
  megabytes: number;
}

interface ChildFigures {
  ms: number;
  bytes: number;
  rssBytes: number;
  repeatBytes: number;
}

export async function measureArtifactDownload(megabytes = Number(process.env.BENCH_ARTIFACT_MB ?? 200), runs = 3): Promise<ArtifactDownloadFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'be-bench-artifact-'));
  const file = join(dir, 'artifact.bin');
  const { hex, size } = await writeRandomFile(file, megabytes);
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
    createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/artifact.bin`;
  const curl: number[] = [];
  const agent: number[] = [];
  const rss: number[] = [];
  let repeat = 0;
  try {
    for (let run = 0; run < runs; run++) {
      const target = join(dir, `curl-${run}.bin`);
      const { stdout } = await promisify(execFile)('curl', ['-s', '-o', target, '-w', '%{time_total}', url]);
      if ((await stat(target)).size !== size) throw new Error('curl did not download the whole file');
      curl.push(size / 1e6 / Number(stdout));
      await rm(target);
      const cacheDir = join(dir, `cache-${run}`);
      const figures = await runChild(url, hex, size, cacheDir);
      if (figures.bytes !== size) throw new Error(`the agent transferred ${figures.bytes} of ${size} bytes`);
      agent.push(size / 1e6 / (figures.ms / 1000));
      rss.push(figures.rssBytes / 1024 / 1024);
      repeat = Math.max(repeat, figures.repeatBytes);
      await rm(cacheDir, { recursive: true, force: true });
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    artifact_download_vs_curl: round(median(agent) / median(curl)),
    artifact_download_rss_mb: round(Math.max(...rss)),
    artifact_repeat_bytes: repeat,
    curl_mb_per_s: curl.map(Math.round),
    agent_mb_per_s: agent.map(Math.round),
    agent_rss_mb: rss.map(Math.round),
    megabytes,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function writeRandomFile(file: string, megabytes: number): Promise<{ hex: string; size: number }> {
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  try {
    for (let written = 0; written < megabytes; written += 8) {
      const chunk = randomBytes(Math.min(8, megabytes - written) * 1024 * 1024);
      hash.update(chunk);
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  return { hex: hash.digest('hex'), size: megabytes * 1024 * 1024 };
}

function runChild(url: string, hex: string, size: number, cacheDir: string): Promise<ChildFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(join(packageRoot(), 'dist', 'bench', 'artifact-download-child.js'), [url, hex, String(size), cacheDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    let figures: ChildFigures | undefined;
    child.on('message', (message) => (figures = message as ChildFigures));
    child.on('error', reject);
    child.on('exit', (code) => (figures ? resolve(figures) : reject(new Error(`the download child exited with ${code} before reporting`))));
  });
}
