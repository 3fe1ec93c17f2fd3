/**
 * A deployment's commit title and author: in local mode read over real git from a repository served over HTTP
 * (git http-backend), in GitHub mode from the commit API answered by nock with every request checked against GitHub's
 * published description; kept per repository and SHA (the second ask reaches nobody), and a lookup that fails or
 * hangs gives undefined within the deadline, stops git, and warns once. The engine records what it gives on the
 * deployment, and plans without it when it fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cachedCommitDescriber, COMMIT_TEXT_MAX, describeOnGitHub, describeOverGit, type CommitInfo, type CommitLookup } from '../../app/rollout/describe-commit.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';
import { startGitHttpServer, type GitHttpServer } from '../../testbed/git-http-server.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';
import { capturedLogger, type LogLine } from '../helpers/captured-logger.js';
import { DEPLOY, openEngineFixture } from '../helpers/engine-fixture.js';

const MARKUP_TITLE = '<b>x</b> ships the \u001b[31mred\u001b[0m total';
const SHA = '4'.repeat(40);

let root: string;
let server: GitHttpServer;
let shop: string;
let sha: string;
let longSha: string;
let contract: GitHubContract;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-describe-'));
  shop = await createBareRepo(root, 'acme/shop', { 'README.md': 'shop\n' });
  sha = await pushCommit(shop, { 'VERSION': '2\n' }, `${MARKUP_TITLE}\n\nThe body is not the title.`);
  longSha = await pushCommit(shop, { 'VERSION': '3\n' }, 'x'.repeat(5000));
  server = await startGitHttpServer({ root });
  contract = await loadGitHubContract('api.github.com');
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

const warnings = (lines: LogLine[]) => lines.filter((l) => l.level === 40).map((l) => l.msg);

describe('local mode: git over the configured URL', () => {
  it('reads the first line of the message and the author, bounded and without control characters; the second ask fetches nothing', async () => {
    const lines: LogLine[] = [];
    const describeCommit = cachedCommitDescriber(describeOverGit, { log: capturedLogger(lines) });
    const gitUrl = `${server.url}/acme/shop.git`;
    const before = server.requests('/acme/shop.git/');
    const info = await describeCommit({ repository: 'acme/shop', gitUrl, sha });
    expect(info).toEqual({ title: '<b>x</b> ships the red total', author: 'BitEnvoy Testbed', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as string });
    const asked = server.requests('/acme/shop.git/');
    expect(asked).toBeGreaterThan(before);
    // The same repository and SHA again: answered from what was kept, git is not asked.
    expect(await describeCommit({ repository: 'acme/shop', gitUrl, sha })).toEqual(info);
    expect(server.requests('/acme/shop.git/')).toBe(asked);

    const long = await describeCommit({ repository: 'acme/shop', gitUrl, sha: longSha });
    expect(long!.title).toHaveLength(COMMIT_TEXT_MAX);
    expect(long!.title.endsWith('…')).toBe(true);
    expect(warnings(lines)).toEqual([]);
  });

  it('gives undefined for a commit the repository does not have, warns once saying what failed, and does not ask again at once', async () => {
    const lines: LogLine[] = [];
    const describeCommit = cachedCommitDescriber(describeOverGit, { log: capturedLogger(lines) });
    const target = { repository: 'acme/shop', gitUrl: `${server.url.replace('//', '//deploy:s3cret@')}/acme/shop.git`, sha: SHA };
    expect(await describeCommit(target)).toBeUndefined();
    const asked = server.requests('/acme/shop.git/');
    expect(await describeCommit(target)).toBeUndefined();
    expect(server.requests('/acme/shop.git/')).toBe(asked);
    const said = warnings(lines);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`cannot read the title and author of commit 4444444 of acme/shop (cannot read commit ${SHA} in http://***@127.0.0.1`);
    expect(said[0]).not.toContain('s3cret');
  });

  it('stops git and gives undefined at the deadline when the git host does not answer', async () => {
    const sockets: Socket[] = [];
    const closed: boolean[] = [];
    // Accepts the connection and never answers: git (curl) would wait forever.
    const silent: TcpServer = createTcpServer((socket) => {
      const i = sockets.push(socket) - 1;
      closed[i] = false;
      socket.on('close', () => (closed[i] = true));
      socket.on('error', () => undefined);
      socket.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const lines: LogLine[] = [];
      const describeCommit = cachedCommitDescriber(describeOverGit, { log: capturedLogger(lines), timeoutMs: 500 });
      const started = Date.now();
      const info = await describeCommit({ repository: 'acme/shop', gitUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/acme/shop.git`, sha });
      expect(info).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(warnings(lines)).toEqual([expect.stringContaining('(no answer within 0.5 s)')]);
      // git was stopped, and its transport helper gives up on the silent host: the connection goes away.
      expect(sockets.length).toBeGreaterThan(0);
      await expect.poll(() => closed.every(Boolean), { timeout: 10_000, interval: 100 }).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('refuses what is not a full SHA before it reaches a git command line', async () => {
    await expect(describeOverGit({ repository: 'acme/shop', gitUrl: `${server.url}/acme/shop.git`, sha: '--upload-pack=touch /tmp/x' }, new AbortController().signal)).rejects.toThrow(
      'is not a full commit SHA',
    );
  });
});

describe('GitHub mode: the commit API with the installation token', () => {
  const octokit = new Octokit({ auth: 'ghs_installation-token', request: { retries: 0 } });

  /** Answers GET /repos/acme/shop/commits/SHA once, recording what GitHub would say of the request. */
  function commitApi(status: number, body: unknown, problems: string[]): void {
    nock('https://api.github.com')
      .get(`/repos/acme/shop/commits/${SHA}`)
      .reply(status, (request: Request) => {
        const url = new URL(request.url);
        problems.push(...contract.problems('GET', `${url.pathname}${url.search}`));
        if (request.headers.get('authorization') !== 'token ghs_installation-token') problems.push('not the installation token');
        return body as nock.Body;
      });
  }

  it('reads the title, the author with their login, and the commit time; asks once per SHA, with a request GitHub has', async () => {
    const problems: string[] = [];
    commitApi(200, { sha: SHA, commit: { message: 'Fix the <i>total</i>\n\nLong body', author: { name: 'Ada Lovelace', date: '2026-11-25T08:00:00Z' }, committer: { date: '2026-11-25T09:00:00Z' } }, author: { login: 'ada' } }, problems);
    const lines: LogLine[] = [];
    const asked: Array<number | undefined> = [];
    const describeCommit = cachedCommitDescriber(
      describeOnGitHub(async (t) => (asked.push(t.installationId), octokit)),
      { log: capturedLogger(lines) },
    );
    const target = { repository: 'acme/shop', gitUrl: 'https://github.com/acme/shop.git', sha: SHA, installationId: 7 };
    const expected: CommitInfo = { title: 'Fix the <i>total</i>', author: 'Ada Lovelace (@ada)', at: '2026-11-25T09:00:00Z' };
    expect(await describeCommit(target)).toEqual(expected);
    expect(await describeCommit(target)).toEqual(expected);
    expect(asked).toEqual([7]);
    expect(problems).toEqual([]);
    expect(warnings(lines)).toEqual([]);
  });

  it('gives undefined and warns once when GitHub refuses, or answers without a commit', async () => {
    const problems: string[] = [];
    commitApi(422, { message: `No commit found for SHA: ${SHA}` }, problems);
    const lines: LogLine[] = [];
    const describeCommit = cachedCommitDescriber(describeOnGitHub(async () => octokit), { log: capturedLogger(lines) });
    expect(await describeCommit({ repository: 'acme/shop', gitUrl: '', sha: SHA })).toBeUndefined();
    expect(warnings(lines)).toEqual([expect.stringContaining(`No commit found for SHA: ${SHA}`)]);
    expect(problems).toEqual([]);

    commitApi(200, { sha: SHA }, problems);
    const other = cachedCommitDescriber(describeOnGitHub(async () => octokit), { log: capturedLogger(lines) });
    expect(await other({ repository: 'acme/shop', gitUrl: '', sha: SHA })).toBeUndefined();
    expect(warnings(lines)[1]).toContain('GitHub answered without a commit message');
  });

  it('reads over git instead when the App is not installed on the repository', async () => {
    const describeCommit = cachedCommitDescriber(describeOnGitHub(async () => undefined, describeOverGit), { log: capturedLogger([]) });
    expect((await describeCommit({ repository: 'acme/shop', gitUrl: `${server.url}/acme/shop.git`, sha }))?.author).toBe('BitEnvoy Testbed');
  });
});

describe('the engine records the commit on the deployment', () => {
  it('keeps the title and author on the record, previews included; a lookup that fails or throws plans without them', async () => {
    const f = await openEngineFixture();
    try {
      await f.addAgent('ag_a', 'web-1');
      const seen: string[] = [];
      let answer: CommitLookup = async (t) => (seen.push(`${t.repository} ${t.sha} ${t.gitUrl}`), { title: 'Fix the total', author: 'Ada' });
      const describeCommit = cachedCommitDescriber((t, signal) => answer(t, signal), { log: capturedLogger([]) });
      const engine = f.engine({ describeCommit });
      const preview = await engine.previewDeployment(DEPLOY);
      expect(preview.commit).toEqual({ title: 'Fix the total', author: 'Ada' });
      const dep = await engine.createDeployment(DEPLOY, 'test');
      expect(dep.commit).toEqual({ title: 'Fix the total', author: 'Ada' });
      expect(seen).toEqual([`acme/shop ${f.sha} https://git.test/acme/shop.git`]);

      // Another commit whose lookup fails: the deployment goes ahead without `commit`.
      f.sha = 'b'.repeat(40);
      answer = async () => Promise.reject(new Error('git host down'));
      await f.agentRuns(engine, 'ag_a');
      const failed = await engine.createDeployment(DEPLOY, 'test');
      expect(failed.state).not.toBe('error');
      expect(failed.commit).toBeUndefined();
      // A describer that breaks its promise and throws is caught by the plan too.
      const throwing = f.engine({ describeCommit: () => Promise.reject(new Error('bug')) });
      expect((await throwing.previewDeployment(DEPLOY)).commit).toBeUndefined();
    } finally {
      await f.close();
    }
  });
});
