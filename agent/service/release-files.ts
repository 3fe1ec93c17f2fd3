/**
 * Reading an agent release: where it is (an http(s):// or file:// URL, or a local folder), this platform's executable
 * name, its SHA256SUMS, and the executable itself, downloaded with a size cap and hashed on the way.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { BitEnvoyError } from '../../lib/errors.js';
import { withoutCredentials } from '../../lib/redact-url.js';

/** SHA256SUMS is a few lines; anything bigger is not one. */
const MAX_SUMS_BYTES = 64 * 1024;
/** A Node single executable application is about 100 MB. */
export const MAX_EXECUTABLE_BYTES = 400 * 1024 * 1024;

/**
 * The release file for a platform and architecture.
 *
 * @example
 * releaseFileName('linux', 'arm64'); // 'bitenvoy-agent-linux-arm64'
 * releaseFileName('win32', 'x64');   // 'bitenvoy-agent-win-x64.exe'
 */
export function releaseFileName(platform: NodeJS.Platform, arch: string): string {
  const os = platform === 'win32' ? 'win' : platform === 'darwin' ? 'macos' : platform;
  return `bitenvoy-agent-${os}-${arch}${platform === 'win32' ? '.exe' : ''}`;
}

/**
 * The SHA-256 (hex) that `sha256sum`-format text gives a file name (`<64 hex>  <name>`, `*<name>` for binary mode).
 * Throws BE_SERVICE when the file is not listed.
 *
 * @example
 * expectedSha256('ab…cd  bitenvoy-agent-linux-x64\n', 'bitenvoy-agent-linux-x64'); // 'ab…cd'
 */
export function expectedSha256(sums: string, file: string, where: string): string {
  for (const line of sums.split(/\r?\n/)) {
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trim());
    if (match && match[2] === file) return match[1]!.toLowerCase();
  }
  throw new BitEnvoyError('BE_SERVICE', `${where} lists no SHA-256 for ${file}: this release has no agent for this platform, or is not a BitEnvoy agent release; nothing was changed`);
}

/** The location of a file of the release, as a URL (http, https or file). */
export function releaseUrl(from: string, file: string): URL {
  const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(from) ? new URL(from) : new URL(`file://${encodeURI(from.startsWith('/') ? from : `/${from.replace(/\\/g, '/')}`)}`);
  if (!['http:', 'https:', 'file:'].includes(base.protocol)) {
    throw new BitEnvoyError('BE_USAGE', `--from ${withoutCredentials(from)}: expected an https:// or file:// URL or a folder, got a ${base.protocol} URL`);
  }
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return new URL(encodeURIComponent(file), base);
}

/** The file's bytes as a stream, refusing an HTTP answer that is not 200. */
async function openRelease(url: URL): Promise<Readable> {
  if (url.protocol === 'file:') {
    const stream = createReadStream(fileURLToPath(url));
    await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject)).catch((err: Error) => {
      throw new BitEnvoyError('BE_SERVICE', `cannot read ${fileURLToPath(url)}: ${err.message}; nothing was changed`);
    });
    return stream;
  }
  const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(10 * 60_000) }).catch((err: Error) => {
    throw new BitEnvoyError('BE_SERVICE', `cannot download ${withoutCredentials(url.href)}: ${err.message}; nothing was changed`);
  });
  if (res.status !== 200 || !res.body) {
    throw new BitEnvoyError('BE_SERVICE', `${withoutCredentials(url.href)} answered HTTP ${res.status}; check --from names a release folder holding SHA256SUMS and the executables; nothing was changed`);
  }
  return Readable.fromWeb(res.body as ReadableStream<Uint8Array>);
}

/** Reads the stream's chunks, refusing it past `max` bytes. */
async function* capped(stream: Readable, max: number, url: URL): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      stream.destroy();
      throw new BitEnvoyError('BE_SERVICE', `${withoutCredentials(url.href)} is larger than ${max} bytes: not an agent release file; nothing was changed`);
    }
    yield chunk;
  }
}

/**
 * The release's SHA256SUMS text.
 *
 * @example
 * const sums = await readSums('https://example.com/releases/v0.2.0');
 */
export async function readSums(from: string): Promise<{ text: string; where: string }> {
  const url = releaseUrl(from, 'SHA256SUMS');
  const chunks: Buffer[] = [];
  for await (const chunk of capped(await openRelease(url), MAX_SUMS_BYTES, url)) chunks.push(chunk);
  return { text: Buffer.concat(chunks).toString('utf8'), where: withoutCredentials(url.href) };
}

/**
 * Downloads a release file into `target` (created with mode 0700, flushed to disk), returning its SHA-256 (hex).
 *
 * @example
 * const sha256 = await downloadRelease(from, 'bitenvoy-agent-linux-x64', '/usr/local/bin/bitenvoy-agent.new');
 */
export async function downloadRelease(from: string, file: string, target: string, max = MAX_EXECUTABLE_BYTES): Promise<string> {
  const url = releaseUrl(from, file);
  const hash = createHash('sha256');
  const handle = await open(target, 'w', 0o700);
  try {
    for await (const chunk of capped(await openRelease(url), max, url)) {
      hash.update(chunk);
      await handle.write(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
