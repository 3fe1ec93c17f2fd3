import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRef } from '../../app/rollout/resolve-ref.js';
import { startGitHttpServer, type GitHttpServer } from '../../testbed/git-http-server.js';
import { createBareRepo, headOf } from '../../testbed/git-repos.js';

let root: string;
let server: GitHttpServer;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-ref-'));
  await createBareRepo(root, 'acme/shop', { 'README.md': 'shop\n' });
  await createBareRepo(root, 'acme/private', { 'README.md': 'secret\n' });
  server = await startGitHttpServer({ root, requireAuth: (path, auth) => path.startsWith('/acme/private') && !auth });
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('resolveRef over git HTTP', () => {
  it('resolves a branch to its commit, and passes a full SHA through', async () => {
    const head = await headOf(join(root, 'acme/shop.git'));
    expect(await resolveRef(`${server.url}/acme/shop.git`, 'main')).toBe(head);
    expect(await resolveRef(`${server.url}/acme/shop.git`, head)).toBe(head);
  });

  it('names a ref that does not exist', async () => {
    await expect(resolveRef(`${server.url}/acme/shop.git`, 'nope')).rejects.toThrow(/ref `nope` does not exist in http:.*acme\/shop\.git; give a branch, a tag or a full 40-character commit SHA/);
  });

  it('fails at once, never waiting for a password prompt, when the repository asks for credentials', async () => {
    const started = Date.now();
    await expect(resolveRef(`${server.url}/acme/private.git`, 'main')).rejects.toThrow(/cannot read http:.*acme\/private\.git: .*(terminal prompts disabled|could not read Username)/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
