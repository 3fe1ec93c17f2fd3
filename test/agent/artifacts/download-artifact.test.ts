import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadArtifact, type DownloadArtifactOptions } from '../../../agent/artifacts/download-artifact.js';
import { artifactPaths, hashUrl, writeSidecar } from '../../../agent/artifacts/artifact-cache.js';
import { BitEnvoyError } from '../../../lib/errors.js';
import { startArtifactServer, type ArtifactServer } from './artifact-server.js';

const BODY = randomBytes(3 * 1024 * 1024 + 17);
const HEX = createHash('sha256').update(BODY).digest('hex');

let server: ArtifactServer;
let cacheDir: string;
let lines: string[];

beforeEach(async () => {
  server = await startArtifactServer();
  server.serve('/app.tgz', { body: BODY, etag: '"v1"' });
  cacheDir = await mkdtemp(join(tmpdir(), 'be-artifacts-'));
  lines = [];
});

afterEach(async () => {
  await server.close();
  await rm(cacheDir, { recursive: true, force: true });
});

function options(extra: Partial<DownloadArtifactOptions> = {}): DownloadArtifactOptions {
  return { url: `${server.base}/app.tgz`, sha256: HEX, size: BODY.length, cacheDir, log: (line) => lines.push(line), retryDelayMs: 10, ...extra };
}

async function failure(promise: Promise<unknown>): Promise<BitEnvoyError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BitEnvoyError);
  expect((err as BitEnvoyError).code).toBe('BE_ARTIFACT');
  return err as BitEnvoyError;
}

describe('downloadArtifact', () => {
  it('downloads, verifies and stores the artifact under its digest, leaving no partial behind', async () => {
    const result = await downloadArtifact(options());
    expect(result).toEqual({ path: join(cacheDir, 'sha256', HEX), bytesTransferred: BODY.length, fromCache: false });
    expect((await readFile(result.path)).equals(BODY)).toBe(true);
    const paths = artifactPaths(cacheDir, HEX);
    expect(existsSync(paths.partial) || existsSync(paths.sidecar)).toBe(false);
  });

  it('answers a repeat from the cache: 0 bytes, and the server sees no request', async () => {
    await downloadArtifact(options());
    const requests = server.requests.length;
    const again = await downloadArtifact(options());
    expect(again).toMatchObject({ bytesTransferred: 0, fromCache: true });
    expect(server.requests).toHaveLength(requests);
  });

  it('refuses bytes with another digest, naming both digests, and keeps nothing under either name', async () => {
    const other = Buffer.from(BODY);
    other[1000] ^= 1;
    server.serve('/app.tgz', { body: other });
    const err = await failure(downloadArtifact(options()));
    expect(err.message).toContain(HEX);
    expect(err.message).toContain(createHash('sha256').update(other).digest('hex'));
    expect(err.message).toContain('deploy again');
    const paths = artifactPaths(cacheDir, HEX);
    expect([paths.final, paths.partial].map((path) => existsSync(path))).toEqual([false, false]);
    expect(server.requests).toHaveLength(1);
  });

  it('resumes an interrupted download with a range request: the bytes sent add up to the file once', async () => {
    const half = 1_000_000;
    server.once((_req, res, s) => s.sendPart(res, '/app.tgz', half, 'cut'));
    const err = await failure(downloadArtifact(options({ attempts: 1 })));
    expect(err.message).toContain(`the ${half} bytes received so far are kept`);
    expect((await stat(artifactPaths(cacheDir, HEX).partial)).size).toBe(half);

    const result = await downloadArtifact(options());
    expect(result.bytesTransferred).toBe(BODY.length - half);
    expect(server.requests[1]!.headers).toMatchObject({ range: `bytes=${half}-`, 'if-range': '"v1"' });
    expect(server.bytesSent).toBe(BODY.length);
    expect((await readFile(result.path)).equals(BODY)).toBe(true);
  });

  it('within one call, resumes after a cut and a 500: one request per attempt, the file transferred once', async () => {
    server.once((_req, res, s) => s.sendPart(res, '/app.tgz', 500_000, 'cut'));
    server.once((_req, res) => void res.writeHead(500).end('busy'));
    const result = await downloadArtifact(options());
    expect(result.bytesTransferred).toBe(BODY.length);
    expect(server.requests.map((r) => r.headers.range)).toEqual([undefined, 'bytes=500000-', 'bytes=500000-']);
    expect(lines.some((line) => line.includes('HTTP 500'))).toBe(true);
  });

  it('starts over when the source changed since the interruption (If-Range no longer holds: 200)', async () => {
    server.once((_req, res, s) => s.sendPart(res, '/app.tgz', 700_000, 'cut'));
    await failure(downloadArtifact(options({ attempts: 1 })));
    const rebuilt = randomBytes(BODY.length);
    server.serve('/app.tgz', { body: rebuilt, etag: '"v2"' });
    const hex = createHash('sha256').update(rebuilt).digest('hex');
    const result = await downloadArtifact(options({ sha256: hex }));
    expect(result.bytesTransferred).toBe(rebuilt.length);
    expect((await readFile(result.path)).equals(rebuilt)).toBe(true);
  });

  it('starts over when a source that ignores If-Range answers 206 with a new ETag, and when it answers 416', async () => {
    server.once((_req, res, s) => s.sendPart(res, '/app.tgz', 700_000, 'cut'));
    await failure(downloadArtifact(options({ attempts: 1 })));
    server.serve('/app.tgz', { body: BODY, etag: '"v1-again"', ignoreIfRange: true });
    const result = await downloadArtifact(options());
    expect(server.requests.map((r) => r.headers.range)).toEqual([undefined, 'bytes=700000-', undefined]);
    expect(result.bytesTransferred).toBe(BODY.length);
    expect(lines.some((line) => line.includes('changed since the download was interrupted'))).toBe(true);

    await rm(result.path);
    server.once((_req, res, s) => s.sendPart(res, '/app.tgz', 10, 'cut'));
    await failure(downloadArtifact(options({ attempts: 1 })));
    server.once((_req, res) => void res.writeHead(416).end());
    expect((await downloadArtifact(options())).bytesTransferred).toBe(BODY.length);
  });

  it('stops at once when the source sends more than the declared size, with or without Content-Length', async () => {
    for (const chunked of [false, true]) {
      server.serve('/app.tgz', { body: Buffer.concat([BODY, Buffer.from('more')]), chunked });
      const err = await failure(downloadArtifact(options()));
      expect(err.message).toContain(`more than the declared ${BODY.length} bytes`);
      // With a Content-Length, refused before a byte of the body is read.
      if (!chunked) expect(err.message).toContain(`Content-Length ${BODY.length + 4}`);
      expect(existsSync(artifactPaths(cacheDir, HEX).partial)).toBe(false);
    }
    expect(server.requests).toHaveLength(2);
  });

  it('stops on the abort signal and leaves a partial the next call resumes', async () => {
    const controller = new AbortController();
    server.once((_req, res, s) => {
      s.sendPart(res, '/app.tgz', 400_000, 'stall');
      setTimeout(() => controller.abort(), 200);
    });
    const err = await failure(downloadArtifact(options({ signal: controller.signal })));
    expect(err.message).toContain('cancelled');
    expect((await stat(artifactPaths(cacheDir, HEX).partial)).size).toBe(400_000);
    const result = await downloadArtifact(options());
    expect(result.bytesTransferred).toBe(BODY.length - 400_000);
  });

  it('fails an attempt when the source goes quiet for timeoutMs', async () => {
    server.once((_req, res, s) => s.sendPart(res, '/app.tgz', 1000, 'stall'));
    const err = await failure(downloadArtifact(options({ attempts: 1, timeoutMs: 300 })));
    expect(err.message).toMatch(/no bytes from 127\.0\.0\.1:\d+ for 300 ms/);
  });

  it('names the URL without its credentials or query in errors', async () => {
    const url = `${server.base.replace('://', '://user:s3cret@')}/missing.tgz?token=s3cret`;
    const err = await failure(downloadArtifact(options({ url })));
    expect(err.message).toContain('HTTP 404');
    expect(err.message).not.toContain('s3cret');
    expect(lines.join('\n')).not.toContain('s3cret');
  });

  it('uses a complete partial without a request when the agent stopped before the rename', async () => {
    const paths = artifactPaths(cacheDir, HEX);
    await mkdir(dirname(paths.final), { recursive: true });
    await writeFile(paths.partial, BODY);
    await writeSidecar(paths, { urlSha256: hashUrl(options().url), etag: '"v1"' });
    expect((await downloadArtifact(options())).bytesTransferred).toBe(0);
    expect(server.requests).toHaveLength(0);
  });
});
