/**
 * Fetching exactly one commit over real git HTTP: only new objects the second time, credentials sent as a header
 * when the hub provides them, and a clear error when they are missing.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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

describe('fetchCommit from a local repository', () => {
  const objectCount = (mirror: string) => {
    const out = execFileSync('git', ['--git-dir', mirror, 'count-objects', '-v'], { encoding: 'utf8' });
    return Number(/^count: (\d+)/m.exec(out)![1]) + Number(/^in-pack: (\d+)/m.exec(out)![1]);
  };

  it('checks out exactly the commit asked for, with every file of it, and a repeat fetches only new objects', async () => {
    const files: Record<string, string> = { '.gitattributes': 'secret-sauce.txt export-ignore\nversion.txt export-subst\n', 'secret-sauce.txt': 'kept\n', 'version.txt': '$Format:%H$\n' };
    for (let i = 0; i < 30; i++) files[`lib/f${i}.txt`] = randomBytes(2000).toString('hex');
    const local = await createBareRepo(join(root, 'local'), 'acme/shop', files);
    const sha1 = await pushCommit(local, { 'VERSION': '1\n' }, 'v1');
    await pushCommit(local, { 'VERSION': 'tip\n' }, 'newer than the deployment');
    const agentDir = join(root, 'agent-local');
    const lines: string[] = [];
    const mirror = await fetchCommit({ agentDir, repository: 'acme/shop', url: `file://${local}`, sha: sha1, ref: 'main', jobId: 'job_a', log: (l) => lines.push(l) });
    expect(mirror).toBe(join(agentDir, 'git', 'acme', 'shop.git'));
    expect(lines.join('')).toMatch(/fetched \d+ KiB of new objects/);
    const release = join(agentDir, 'releases', 'job_a');
    await checkoutRelease(mirror, sha1, release);
    expect(await readFile(join(release, 'VERSION'), 'utf8')).toBe('1\n');
    expect(await readFile(join(release, 'secret-sauce.txt'), 'utf8')).toBe('kept\n');
    expect(await readFile(join(release, 'version.txt'), 'utf8')).toBe('$Format:%H$\n');
    const listed = execFileSync('git', ['--git-dir', local, 'ls-tree', '-r', '--name-only', sha1], { encoding: 'utf8' }).trim().split('\n').sort();
    const walk = async (d: string, prefix = ''): Promise<string[]> =>
      (await Promise.all((await readdir(d, { withFileTypes: true })).map((e) => (e.isDirectory() ? walk(join(d, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`])))).flat();
    expect((await walk(release)).sort()).toEqual(listed);

    const before = objectCount(mirror);
    const sha2 = await pushCommit(local, { 'lib/f0.txt': 'changed\n' }, 'one file changed');
    await fetchCommit({ agentDir, repository: 'acme/shop', url: `file://${local}`, sha: sha2, ref: 'main', jobId: 'job_b', log: () => undefined });
    // The new commit, its root tree, lib/ and one blob — plus the tip commit fetched with it at most.
    expect(objectCount(mirror) - before).toBeLessThanOrEqual(8);
    expect(before).toBeGreaterThan(30);
  });

  it('says clearly when the commit is not in the repository', async () => {
    const local = await createBareRepo(join(root, 'local2'), 'acme/api', { 'a.txt': 'a\n' });
    await expect(
      fetchCommit({ agentDir: join(root, 'agent-local2'), repository: 'acme/api', url: `file://${local}`, sha: 'd'.repeat(40), ref: 'main', jobId: 'job_c', log: () => undefined }),
    ).rejects.toThrow(`commit ${'d'.repeat(40)} is not in file://${local} (fetched main); was the branch force-pushed?`);
  });
});
