import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadArtifact } from '../../../agent/artifacts/download-artifact.js';
import { redirectTarget } from '../../../agent/artifacts/redirect-target.js';
import { startArtifactServer, type ArtifactServer } from './artifact-server.js';

const BODY = randomBytes(200_000);
const HEX = createHash('sha256').update(BODY).digest('hex');
const TOKEN = { authorization: 'Bearer ghs_short-lived', 'x-github-api-version': '2022-11-28' };

describe('redirectTarget', () => {
  it.each([
    ['another origin', 'https://api.github.com/repos/a/b/actions/artifacts/1/zip', 'https://blob.example/x?sig=s', { url: 'https://blob.example/x?sig=s' }],
    ['another port', 'https://cdn.example/a', 'https://cdn.example:8443/a', { url: 'https://cdn.example:8443/a' }],
    ['a path of the same origin', 'https://cdn.example/a', '/b', { url: 'https://cdn.example/b' }],
    ['http to https, an upgrade', 'http://cdn.example/a', 'https://cdn.example/a', { url: 'https://cdn.example/a' }],
  ])('%s', (_name, from, location, expected) => {
    expect(redirectTarget(from, location)).toEqual(expected);
  });

  it.each([
    ['https to http', 'https://cdn.example/a', 'http://cdn.example/a', 'from https to http'],
    ['https to http elsewhere', 'https://api.github.com/x', 'http://blob.example/x', 'from https to http'],
    ['another scheme', 'https://cdn.example/a', 'file:///etc/passwd', 'file: URL'],
  ])('refuses %s', (_name, from, location, reason) => {
    expect(redirectTarget(from, location).refusal).toContain(reason);
  });
});

describe('downloadArtifact across redirects', () => {
  let api: ArtifactServer;
  let blob: ArtifactServer;
  let cacheDir: string;

  beforeEach(async () => {
    [api, blob] = await Promise.all([startArtifactServer(), startArtifactServer()]);
    blob.serve('/blob', { body: BODY });
    api.serve('/same-origin-blob', { body: BODY });
    cacheDir = await mkdtemp(join(tmpdir(), 'be-artifacts-'));
  });

  afterEach(async () => {
    await Promise.all([api.close(), blob.close()]);
    await rm(cacheDir, { recursive: true, force: true });
  });

  const download = (path: string) => downloadArtifact({ url: `${api.base}${path}`, sha256: HEX, headers: TOKEN, cacheDir, log: () => undefined, retryDelayMs: 10 });

  it('follows a 302 to another origin without the Authorization header or any given header', async () => {
    api.once((_req, res) => void res.writeHead(302, { location: `${blob.base}/blob` }).end());
    const result = await download('/zip');
    expect(result.bytesTransferred).toBe(BODY.length);
    expect(api.requests[0]!.headers).toMatchObject({ authorization: TOKEN.authorization });
    expect(blob.requests).toHaveLength(1);
    expect(blob.requests[0]!.headers.authorization).toBeUndefined();
    expect(blob.requests[0]!.headers['x-github-api-version']).toBeUndefined();
  });

  it('drops the headers on a redirect within the same origin too (a storage path signs itself)', async () => {
    api.once((_req, res) => void res.writeHead(307, { location: '/same-origin-blob' }).end());
    await download('/zip');
    expect(api.requests.map((r) => r.headers.authorization)).toEqual([TOKEN.authorization, undefined]);
  });

  it('gives up after 5 redirects', async () => {
    for (let i = 0; i < 6; i++) api.once((_req, res) => void res.writeHead(302, { location: `/hop${i}` }).end());
    const err = (await download('/zip').catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('more than 5 redirects');
    expect(api.requests).toHaveLength(6);
  });
});
