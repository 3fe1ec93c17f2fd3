/**
 * The config repo loader against real git repositories: only a valid commit takes effect, an invalid one is
 * reported and the last valid one stays in force — across a hub restart too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('explains a config repo that does not exist, and serves no config', async () => {
    const repo = new ConfigRepo({ source: join(root, 'nope.git'), workDir: join(root, 'nope-work'), log: silentLogger() });
    const status = await repo.refresh();
    expect(status.lastError).toMatch(/^cannot clone the config repo .*nope\.git: .*; set BITENVOY_CONFIG_REPO to a git URL or path the hub can read$/);
    expect(repo.current()).toBeUndefined();
  });

  it('shares one run between concurrent refreshes', async () => {
    const repo = open(join(root, 'concurrent'));
    const [a, b] = [repo.refresh(), repo.refresh()];
    expect(a).toBe(b);
    await a;
  });
});
