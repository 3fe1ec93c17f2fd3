import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRef } from '../../app/rollout/resolve-ref.js';
import { startGitHttpServer, type GitHttpServer } from '../../testbed/git-http-server.js';
import { createBareRepo, headOf, pushCommit } from '../../testbed/git-repos.js';

const exec = promisify(execFile);
const IDENTITY = ['-c', 'user.name=Test', '-c', 'user.email=test@bitenvoy.invalid'];

let root: string;
let server: GitHttpServer;
let shop: string;
let first: string;
let second: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-ref-'));
  shop = await createBareRepo(root, 'acme/shop', { 'README.md': 'shop\n' });
  first = await headOf(shop);
  // v1: a lightweight tag on the first commit; v2: an annotated tag on the second; `release`: a branch.
  await exec('git', ['tag', 'v1', first], { cwd: shop });
  second = await pushCommit(shop, { 'VERSION': '2\n' }, 'two');
  await exec('git', [...IDENTITY, 'tag', '-a', 'v2', '-m', 'release 2', second], { cwd: shop });
  await exec('git', ['branch', 'release', first], { cwd: shop });
  await createBareRepo(root, 'acme/private', { 'README.md': 'secret\n' });
  server = await startGitHttpServer({ root, requireAuth: (path, auth) => path.startsWith('/acme/private') && !auth });
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('resolveRef over git HTTP', () => {
  it('resolves branches, lightweight and annotated tags to their commits', async () => {
    const url = `${server.url}/acme/shop.git`;
    expect(await resolveRef(url, 'main')).toBe(second);
    expect(await resolveRef(url, 'release')).toBe(first);
    expect(await resolveRef(url, 'v1')).toBe(first);
    expect(await resolveRef(url, 'v2')).toBe(second);
    expect(await resolveRef(url, 'refs/tags/v2')).toBe(second);
  });

  it('passes a full SHA through, lowercased', async () => {
    expect(await resolveRef(`${server.url}/acme/shop.git`, first)).toBe(first);
    expect(await resolveRef(`${server.url}/acme/shop.git`, first.toUpperCase())).toBe(first);
  });

  it('names a ref that does not exist, and the repository', async () => {
    const err = await resolveRef(`${server.url}/acme/shop.git`, 'nope').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BE_REF_NOT_FOUND', status: 422, details: { ref: 'nope', repository: `${server.url}/acme/shop.git` } });
    expect((err as Error).message).toBe(`ref \`nope\` does not exist in ${server.url}/acme/shop.git; give a branch, a tag or a full 40-character commit SHA`);
  });

  it('refuses what is not a ref name before running git (a leading dash would be an option)', async () => {
    for (const ref of ['--upload-pack=touch /tmp/x', 'a..b', 'has space']) {
      await expect(resolveRef(`${server.url}/acme/shop.git`, ref)).rejects.toMatchObject({ code: 'BE_REF_NOT_FOUND', message: expect.stringContaining('is not a git ref name') });
    }
  });

  it('reports an unreachable repository as BE_GIT with git’s first line, never showing credentials', async () => {
    const err = await resolveRef('http://someone:s3cret@127.0.0.1:9/acme/shop.git', 'main').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BE_GIT', status: 502 });
    expect((err as Error).message).toMatch(/^cannot read http:\/\/\*\*\*@127\.0\.0\.1:9\/acme\/shop\.git: .*(Failed to connect|Couldn't connect|Connection refused)/);
    expect((err as Error).message).not.toContain('s3cret');
  });

  it('fails at once, never waiting for a password prompt, when the repository asks for credentials', async () => {
    const started = Date.now();
    await expect(resolveRef(`${server.url}/acme/private.git`, 'main')).rejects.toThrow(/cannot read http:.*acme\/private\.git: .*(terminal prompts disabled|could not read Username)/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
