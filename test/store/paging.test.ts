/**
 * Pages read by cursor from the indexes: every deployment and audit entry exactly once, newest first across pages,
 * and a cursor that is not one answered with a sentence saying what to pass.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { listAudit, pageOfAudit, recordAudit } from '../../app/audit/audit-log.js';
import { keys, type DeploymentRecord } from '../../app/model.js';
import { pageOfDeployments } from '../../app/store/deployment-queries.js';
import type { Store } from '../../app/store/store.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let store: Store;
  beforeEach(() => {
    store = stores.store;
  });

  async function deployment(n: number, createdAt: string, environment = 'staging'): Promise<string> {
    const id = `dep_${String(n).padStart(12, '0')}`;
    await store.set(keys.deployment(id), { id, repository: 'acme/shop', environment, sha: 'a'.repeat(40), state: 'success', createdAt, batches: [] } as unknown as DeploymentRecord);
    return id;
  }

  it('pages deployments newest first by cursor, each exactly once, ties on the time kept apart by id', async () => {
    const ids: string[] = [];
    // Three share one creation time: the cursor must not skip or repeat them.
    for (let n = 0; n < 8; n++) ids.push(await deployment(n, `2026-12-01T10:00:0${n < 3 ? 0 : n}.000Z`, n % 2 ? 'production' : 'staging'));
    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await pageOfDeployments(store, { limit: 3, ...(before ? { before } : {}) });
      seen.push(...page.deployments.map((d) => d.id));
      if (!page.next) break;
      before = page.next;
    }
    expect(seen).toEqual([...ids].reverse());
    const staging = await pageOfDeployments(store, { limit: 10, repository: 'acme/shop', environment: 'staging' });
    expect(staging.deployments.map((d) => d.environment)).toEqual(['staging', 'staging', 'staging', 'staging']);
    expect(staging.next).toBeUndefined();
  });

  it('refuses a cursor that is not one, saying what to pass', async () => {
    await expect(pageOfDeployments(store, { limit: 3, before: 'yesterday' })).rejects.toMatchObject({
      code: 'BE_BAD_REQUEST',
      message: '"yesterday" is not a page cursor: pass back the "next" value of the previous page',
    });
    await expect(pageOfAudit(store, { limit: 3, before: "audit:' OR 1=1" })).rejects.toMatchObject({
      code: 'BE_BAD_REQUEST',
      message: `"audit:' OR 1=1" is not an audit page cursor: pass back the "older" value of the previous page`,
    });
  });

  it('pages the audit log back from the newest, oldest first within a page, and lists more than one page whole', async () => {
    const base = Date.parse('2026-12-01T00:00:00.000Z');
    for (let i = 0; i < 1500; i++) await recordAudit(store, { at: new Date(base + i * 1000).toISOString(), actor: 'api', action: 'deploy', repository: i % 3 ? 'acme/shop' : 'acme/other', outcome: `n${i}` });
    const newest = await pageOfAudit(store, { limit: 2 });
    expect(newest.entries.map((e) => e.outcome)).toEqual(['n1498', 'n1499']);
    const before = await pageOfAudit(store, { limit: 2, before: newest.older! });
    expect(before.entries.map((e) => e.outcome)).toEqual(['n1496', 'n1497']);
    const all = await listAudit(store);
    expect(all).toHaveLength(1500);
    expect(all.map((e) => e.outcome)).toEqual(Array.from({ length: 1500 }, (_, i) => `n${i}`));
    const other = await listAudit(store, { repository: 'acme/other', limit: 3 });
    expect(other.map((e) => e.outcome)).toEqual(['n1491', 'n1494', 'n1497']);
  });
});
