/**
 * The config repo loader against real git repositories: only a valid commit takes effect, an invalid one is
 * reported and the last valid one stays in force — across a hub restart too.
 */
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigRepo } from '../../app/config/config-repo.js';
import { silentLogger } from '../../lib/logger.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';
import { sampleConfigFiles } from '../../testbed/sample-app.js';

let root: string;
let bare: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-config-repo-'));
  bare = await createBareRepo(root, 'acme/.bitenvoy', await sampleConfigFiles('https://git.test/demo/shop.git'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

const open = (workDir: string) => new ConfigRepo({ source: bare, workDir, log: silentLogger() });

describe('ConfigRepo', () => {
  it('loads, follows valid commits, rejects invalid ones and keeps the valid one across a restart', async () => {
    const workDir = join(root, 'hub-config');
    const repo = open(workDir);
    const first = await repo.refresh();
    expect(first.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(first.branch).toBe('main');
    expect(Object.keys(repo.current()!.repositories)).toEqual(['demo/shop']);

    const second = await pushCommit(bare, { 'groups.yml': 'groups:\n  web:\n    selector: { matchLabels: { role: frontend } }\n' }, 'web is frontend');
    expect((await repo.refresh()).sha).toBe(second);
    expect(repo.current()!.groups.web!.selector.matchLabels).toEqual({ role: 'frontend' });

    const bad = await pushCommit(bare, { 'groups.yml': 'groups:\n  web:\n    selectr: {}\n' }, 'typo');
    const status = await repo.refresh();
    expect(status.sha).toBe(second);
    expect(status.rejected?.sha).toBe(bad);
    expect(status.rejected?.errors[0]?.message).toContain('unknown key `selectr` in `groups.web`; did you mean `selector`?');
    expect(repo.current()!.sha).toBe(second);

    // A restarted hub finds the head still broken: the recorded valid commit comes back into force.
    const restarted = open(workDir);
    const afterRestart = await restarted.refresh();
    expect(afterRestart.sha).toBe(second);
    expect(afterRestart.rejected?.sha).toBe(bad);
    expect(restarted.current()!.groups.web!.selector.matchLabels).toEqual({ role: 'frontend' });
  });

  it('explains a source that does not exist or is not a git repository, and serves no config', async () => {
    const missing = new ConfigRepo({ source: join(root, 'nope.git'), workDir: join(root, 'nope-work'), log: silentLogger() });
    expect((await missing.refresh()).lastError).toBe(
      `config repo ${join(root, 'nope.git')} does not exist; set BITENVOY_CONFIG_REPO to a git URL or path the hub can read`,
    );
    expect(missing.current()).toBeUndefined();

    const plain = join(root, 'plain-folder');
    await mkdir(plain);
    const notGit = new ConfigRepo({ source: plain, workDir: join(root, 'plain-work'), log: silentLogger() });
    const status = await notGit.refresh();
    expect(status.lastError).toBe(`config repo ${plain} is not a git repository; set BITENVOY_CONFIG_REPO to a git URL or path the hub can read`);
    expect(status.sha).toBeUndefined();
    expect(notGit.current()).toBeUndefined();
  });

  it('keeps the config in force while the source is unreachable, also across a restart', async () => {
    const source = await createBareRepo(root, 'acme/flaky', await sampleConfigFiles('https://git.test/demo/shop.git'));
    const workDir = join(root, 'flaky-work');
    const repo = new ConfigRepo({ source: pathToFileURL(source).href, workDir, log: silentLogger() });
    const { sha } = await repo.refresh();
    expect(sha).toMatch(/^[0-9a-f]{40}$/);

    await rename(source, `${source}.away`);
    const down = await repo.refresh();
    expect(down.lastError).toMatch(/^config repo .*flaky\.git does not exist; set BITENVOY_CONFIG_REPO/);
    expect(down.sha).toBe(sha);
    expect(repo.current()?.sha).toBe(sha);

    const restarted = new ConfigRepo({ source: pathToFileURL(source).href, workDir, log: silentLogger() });
    expect((await restarted.refresh()).sha).toBe(sha);
    expect(restarted.current()?.repositories['demo/shop']).toBeDefined();

    await rename(`${source}.away`, source);
    const up = await repo.refresh();
    expect(up.lastError).toBeUndefined();
    expect(up.sha).toBe(sha);
  });

  it('follows a changed source on the same work directory', async () => {
    const workDir = join(root, 'moved-work');
    const first = await open(workDir).refresh();
    const other = await createBareRepo(root, 'acme/other', {
      ...(await sampleConfigFiles('https://git.test/demo/shop.git')),
      'groups.yml': 'groups:\n  web:\n    selector: { matchLabels: { role: other } }\n',
    });
    const moved = new ConfigRepo({ source: other, workDir, log: silentLogger() });
    const status = await moved.refresh();
    expect(status.sha).not.toBe(first.sha);
    expect(moved.current()!.groups.web!.selector.matchLabels).toEqual({ role: 'other' });
  });

  it('shares one run between concurrent refreshes', async () => {
    const repo = open(join(root, 'concurrent'));
    const [a, b] = [repo.refresh(), repo.refresh()];
    expect(a).toBe(b);
    await a;
  });
});
