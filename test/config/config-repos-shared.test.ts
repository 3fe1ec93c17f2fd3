/**
 * Hub replicas fetch the config repo once fleet-wide (ConfigRepos.share): on the timer only the leader fetches and
 * records the head it saw in the shared store; another replica fetches only when that record names a commit it has not
 * seen, or when the record is so old that the leader must have stopped. Two ConfigRepos on one store, a real git
 * repository, on SQLite and PostgreSQL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigRepo } from '../../app/config/config-repo.js';
import { ConfigRepos } from '../../app/config/config-repos.js';
import { silentLogger } from '../../lib/logger.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';
import { sampleConfigFiles } from '../../testbed/sample-app.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-config-shared-'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

/** A replica's config repos, and how many times it fetched. */
function replica(bare: string, name: string): { configs: ConfigRepos; repo: ConfigRepo; fetches: () => number } {
  const repo = new ConfigRepo({ source: bare, workDir: join(root, `${name}-${Math.random().toString(36).slice(2)}`), refreshSeconds: 60, log: silentLogger() });
  let fetches = 0;
  const refresh = repo.refresh.bind(repo);
  repo.refresh = () => {
    fetches++;
    return refresh();
  };
  return { configs: ConfigRepos.single(repo), repo, fetches: () => fetches };
}

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);

  it('the leader fetches on the timer; another replica fetches only when the head it recorded moved, or went stale', async () => {
    const bare = await createBareRepo(root, `acme/.bitenvoy-${backend.name}`, await sampleConfigFiles('https://git.test/demo/shop.git'));
    const leader = replica(bare, 'leader');
    const other = replica(bare, 'other');
    leader.configs.share({ store: stores.store, leading: () => true });
    other.configs.share({ store: await stores.open(), leading: () => false });
    // Both load at start (the hub's first refresh), as every replica must.
    const first = (await leader.configs.refresh())[0]!.sha;
    expect((await other.configs.refresh())[0]!.sha).toBe(first);
    const before = other.fetches();

    // Nothing moved: the leader's timer fetches, the other replica's does not.
    await leader.configs.sync();
    await other.configs.sync();
    await other.configs.sync();
    expect(leader.fetches()).toBe(2);
    expect(other.fetches()).toBe(before);

    // The branch moves: the leader sees it on its timer, the other replica at its next one, with one fetch.
    const second = await pushCommit(bare, { 'groups.yml': 'groups:\n  web:\n    selector: { matchLabels: { role: frontend } }\n' }, 'web is frontend');
    await other.configs.sync();
    expect(other.fetches()).toBe(before);
    await leader.configs.sync();
    expect(leader.repo.current()!.sha).toBe(second);
    await other.configs.sync();
    expect(other.fetches()).toBe(before + 1);
    expect(other.repo.current()!.sha).toBe(second);
    await other.configs.sync();
    expect(other.fetches()).toBe(before + 1);

    // An invalid head counts as seen too: it is recorded and fetched once, not again and again.
    await pushCommit(bare, { 'groups.yml': 'groups:\n  web:\n    selectr: {}\n' }, 'typo');
    await leader.configs.sync();
    await other.configs.sync();
    await other.configs.sync();
    expect(other.fetches()).toBe(before + 2);
    expect(other.repo.status().rejected).toBeDefined();

    // A leader that stopped fetching: past five refresh intervals the other replica fetches for itself.
    const later = Date.now() + 5 * 60_000 + 1000;
    await other.configs.sync(later);
    expect(other.fetches()).toBe(before + 3);
  });
});
