/**
 * The agent's side of bench/artifact-download.ts, in a process of its own so its memory is what an agent's would be:
 * downloads the artifact named by its arguments (`URL SHA256 SIZE CACHE_DIR`) into an empty cache, then once more
 * (which must come from the cache), sampling its resident memory throughout, and sends the figures to its parent.
 *
 * @example
 * fork('dist/bench/artifact-download-child.js', [url, hex, String(size), cacheDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
 */
import { readFile } from 'node:fs/promises';
import { downloadArtifact } from '../agent/artifacts/download-artifact.js';

/**
 * This process's peak resident memory, which no sampling can miss: Linux's VmHWM. Not `resourceUsage().maxRSS`: Linux
 * carries the parent's peak over into a forked child's, so it would report the bench's own memory.
 */
async function peakRss(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

const [url = '', sha256 = '', size = '0', cacheDir = ''] = process.argv.slice(2);
let maxRss = process.memoryUsage.rss();
const sampler = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage.rss())), 20);
const options = { url, sha256, size: Number(size), cacheDir, log: () => undefined, attempts: 1 };
const started = performance.now();
const first = await downloadArtifact(options);
const ms = performance.now() - started;
maxRss = Math.max(maxRss, process.memoryUsage.rss());
clearInterval(sampler);
const repeat = await downloadArtifact(options);
process.send?.({ ms, bytes: first.bytesTransferred, rssBytes: Math.max(maxRss, await peakRss()), repeatBytes: repeat.bytesTransferred });
process.disconnect?.();
