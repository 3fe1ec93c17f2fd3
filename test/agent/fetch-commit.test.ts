/**
 * Fetching exactly one commit over real git HTTP: only new objects the second time, credentials sent as a header
 * when the hub provides them, and a clear error when they are missing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutRelease, fetchCommit } from '../../agent/fetch-commit.js';
import { startGitHttpServer, type GitHttpServer } from '../../testbed/git-http-server.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';

const GOOD = `Basic ${Buffer.from('x-access-token:ghs_good').toString('base64')}`;
let root: string;
let server: GitHttpServer;
let bare: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-fetch-'));
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) files[`src/file-${i}.txt`] = randomBytes(4000).toString('base64');
  bare = await createBareRepo(join(root, 'git'), 'acme/private', files);
  server = await startGitHttpServer({ root: join(root, 'git'), requireAuth: (_path, auth) => auth !== GOOD });
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

const url = () => `${server.url}/acme/private.git`;
const auth = { username: 'x-access-token', password: 'ghs_good', expiresAt: new Date(Date.now() + 3600_000).toISOString() };

describe('fetchCommit', () => {
  it('refuses clearly without credentials, fetches with them, and fetches only what is new the second time', async () => {
    const agentDir = join(root, 'agent');
    const sha1 = await pushCommit(bare, { 'VERSION': '1\n' }, 'v1');
    const log = () => undefined;
    await expect(fetchCommit({ agentDir, repository: 'acme/private', url: url(), sha: sha1, ref: 'main', jobId: 'job_0', log })).rejects.toThrow(/cannot fetch acme\/private from http:.*acme\/private\.git/);

    const before = server.bytesSent();
    const mirror = await fetchCommit({ agentDir, repository: 'acme/private', url: url(), auth, sha: sha1, ref: 'main', jobId: 'job_1', log });
    const first = server.bytesSent() - before;
    await checkoutRelease(mirror, sha1, join(agentDir, 'release-1'));
    expect(await readFile(join(agentDir, 'release-1', 'VERSION'), 'utf8')).toBe('1\n');

    const sha2 = await pushCommit(bare, { 'VERSION': '2\n' }, 'v2');
    const mid = server.bytesSent();
    await fetchCommit({ agentDir, repository: 'acme/private', url: url(), auth, sha: sha2, ref: 'main', jobId: 'job_2', log });
    const second = server.bytesSent() - mid;
    expect(second / first).toBeLessThan(0.1);
  });

  it('names a commit the repository does not have', async () => {
    await expect(
      fetchCommit({ agentDir: join(root, 'agent'), repository: 'acme/private', url: url(), auth, sha: 'b'.repeat(40), ref: 'main', jobId: 'job_3', log: () => undefined }),
    ).rejects.toThrow(/commit b{40} is not in .*acme\/private\.git \(fetched main\)/);
  });
});
