/**
 * `bitenvoy store migrate` as a user runs it (the built CLI, a real SQLite store, a real PostgreSQL database): every
 * table arrives whole, counted and hashed on both sides; the moved store works as a hub's store; a non-empty target
 * and a wrong source are refused with what to do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordAudit } from '../../app/audit/audit-log.js';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import { jobCountsOf } from '../../app/store/job-queries.js';
import { pageOfDeployments } from '../../app/store/deployment-queries.js';
import { openStore } from '../../app/store/open-store.js';
import { runCli } from '../../testbed/processes.js';
import { STORE_BACKENDS, databaseUrl, useStoreBackend } from '../helpers/store-backends.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;

describe('bitenvoy store migrate', () => {
  // The fresh, empty PostgreSQL database of each test (its own store is only the helper's; the CLI opens its own).
  const target = useStoreBackend(postgres);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitenvoy-migrate-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  async function sourceStore(): Promise<void> {
    const store = await openStore({ dataDir: dir });
    try {
      for (let n = 0; n < 3; n++) {
        const id = `dep_00000000000${n}`;
        await store.set(keys.deployment(id), { id, repository: 'acme/shop', environment: 'staging', ref: 'main', sha: String(n).repeat(40), state: n < 2 ? 'success' : 'in_progress', createdAt: `2026-12-0${n + 1}T10:00:00.000Z`, finishedAt: n < 2 ? `2026-12-0${n + 1}T10:05:00.000Z` : undefined, batches: [{ agentIds: ['ag_1'] }] } as unknown as DeploymentRecord);
        await store.set(keys.job(`job_${n}`), { agentId: 'ag_1', state: n < 2 ? 'succeeded' : 'running', batch: 0, spec: { id: `job_${n}`, deploymentId: id, createdAt: `2026-12-0${n + 1}T10:00:00.000Z` } } as unknown as JobRecord);
      }
      await store.set(keys.agent('ag_1'), { id: 'ag_1', name: 'web-1', labels: { role: 'web' }, credentialHash: 'h1', lastSeenAt: '2026-12-05T10:00:00.000Z' } as unknown as AgentRecord);
      await recordAudit(store, { actor: 'alice', action: 'deploy', repository: 'acme/shop', environment: 'staging', outcome: 'started' });
      await store.set('session:abc', { who: 'alice' }, 3_600_000);
      await store.db.run("INSERT INTO github_effects (installation_id, route, params, created_at, attempts, next_attempt_at) VALUES (1, 'POST /x', '{}', '2026-12-05T10:00:00.000Z', 0, '2026-12-05T10:00:00.000Z')");
    } finally {
      await store.close();
    }
  }

  it.runIf(!postgres.unavailable)('copies every table, verified on both sides, into a store the hub can use', async () => {
    await sourceStore();
    const url = databaseUrl(target.databaseName!);
    const out = await runCli(['store', 'migrate', '--from', `sqlite:${dir}`, '--to', url]);
    expect(out).toMatch(/^ {2}deployments +3 rows {2}sha256 [0-9a-f]{64} {2}\(same on both sides\)$/m);
    expect(out).toMatch(/^ {2}jobs +3 rows/m);
    expect(out).toMatch(/^ {2}github_effects +1 rows/m);
    expect(out).toMatch(/^done: \d+ rows in/m);
    expect(out).not.toContain(new URL(url).password || '\u0000');

    const moved = await openStore({ dataDir: dir, database: { url } });
    try {
      expect((await pageOfDeployments(moved, { limit: 10 })).deployments.map((d) => d.id)).toEqual(['dep_000000000002', 'dep_000000000001', 'dep_000000000000']);
      expect((await moved.get<DeploymentRecord>(keys.deployment('dep_000000000001')))?.batches).toEqual([{ agentIds: ['ag_1'] }]);
      expect(await jobCountsOf(moved, 'dep_000000000002')).toEqual([{ batch: 0, state: 'running', n: 1 }]);
      expect(await moved.get('session:abc')).toEqual({ who: 'alice' });
      // New rows of an identity column go on after the copied ones.
      await moved.db.run("INSERT INTO github_effects (installation_id, route, params, created_at, attempts, next_attempt_at) VALUES (1, 'POST /y', '{}', '2026-12-05T10:00:01.000Z', 0, '2026-12-05T10:00:01.000Z')");
      expect((await moved.db.all<{ id: number }>('SELECT id FROM github_effects ORDER BY id')).map((r) => Number(r.id))).toEqual([1, 2]);
    } finally {
      await moved.close();
    }

    // Again into the same (now full) database: refused, nothing written.
    await expect(runCli(['store', 'migrate', '--from', `sqlite:${join(dir, 'hub.sqlite')}`, '--to', url])).rejects.toThrow(/the target database is not empty \(rows in [a-z_, ]+\): store migrate copies into a new, empty database only/);
  });

  it('refuses a source without a store, saying what to give', async () => {
    await expect(runCli(['store', 'migrate', '--from', `sqlite:${join(dir, 'nothing')}`, '--to', 'postgres://u@127.0.0.1:1/x'])).rejects.toThrow(/no hub store there .*give the hub's data folder/);
    await expect(runCli(['store', 'migrate', '--from', dir, '--to', 'postgres://u@127.0.0.1:1/x'])).rejects.toThrow(/expected sqlite:PATH/);
  });
});
