/**
 * What each server runs now (`releases`), on SQLite and PostgreSQL: a job that succeeds becomes its server's release
 * in the same transaction as the job's own write (a failing release write leaves the job unchanged); a late success of
 * an older job never overwrites a newer release; removing an agent removes its releases; migration 8 fills the table
 * from the jobs already stored; the named queries page an environment's servers, count them on a commit or not, list
 * an agent's releases, and say when a release's deployment was pruned.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { keys, type AgentRecord, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import { countReleasesOn, pageOfReleases, releasesOfAgent } from '../../app/store/release-queries.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const at = (minute: number) => new Date(Date.parse('2026-11-25T10:00:00.000Z') + minute * 60_000).toISOString();

interface ReleaseRow {
  agent_id: string;
  sha: string;
  deployment_id: string;
  job_id: string;
  at: string;
}

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let store: SqlStore;
  beforeEach(() => {
    store = stores.store;
  });

  async function agent(id: string, name = `web-${id}`): Promise<void> {
    const record: AgentRecord = { id, name, labels: {}, version: 't', credentialHash: id, enrolledAt: at(0), lastSeenAt: at(0) };
    await store.set(keys.agent(id), record);
  }

  async function deployment(id: string, sha: string, minute: number, environment = 'staging'): Promise<void> {
    const record = { id, repository: 'acme/shop', environment, ref: 'main', sha, state: 'success', createdAt: at(minute), updatedAt: at(minute), createdBy: 't', batches: [] };
    await store.set(keys.deployment(id), record as unknown as DeploymentRecord);
  }

  /** A job of `dep` on `agentId`, created at `minute`, in `state`. */
  function job(dep: string, agentId: string, sha: string, minute: number, state: JobRecord['state'] = 'running', environment = 'staging'): JobRecord {
    const id = `job_${dep}_${agentId}`;
    return {
      spec: { id, deploymentId: dep, repository: 'acme/shop', environment, ref: 'main', sha, git: { url: 'https://git.test/acme/shop.git' }, instructions: 'bitenvoy.yml', createdAt: at(minute) },
      agentId,
      batch: 0,
      state,
      eventsAckedSeq: 0,
      logsAckedSeq: 0,
      events: [],
      ...(state === 'succeeded' ? { finishedAt: at(minute + 1) } : {}),
    };
  }

  /** The job moves to `state` through the store's write path (as the job reporter does). */
  async function finish(record: JobRecord, state: JobRecord['state'], minute: number): Promise<void> {
    await store.update<JobRecord>(keys.job(record.spec.id), (current) => ({ ...(current ?? record), state, finishedAt: at(minute) }));
  }

  const rows = () => store.db.all<ReleaseRow>('SELECT agent_id, sha, deployment_id, job_id, at FROM releases ORDER BY repository, environment, agent_id');

  it("records a job's success as its server's release, in the job's own transaction", async () => {
    await agent('ag_1');
    const running = job('dep_1', 'ag_1', A, 1);
    await store.set(keys.job(running.spec.id), running);
    expect(await rows()).toEqual([]);
    await finish(running, 'succeeded', 3);
    expect(await rows()).toEqual([{ agent_id: 'ag_1', sha: A, deployment_id: 'dep_1', job_id: 'job_dep_1_ag_1', at: at(3) }]);

    // The same transaction: when the release cannot be written, the job's success is not written either.
    const second = job('dep_2', 'ag_1', B, 5);
    await store.set(keys.job(second.spec.id), second);
    await store.db.exec('DROP TABLE releases');
    await expect(finish(second, 'succeeded', 6)).rejects.toThrow(/releases/);
    expect((await store.get<JobRecord>(keys.job(second.spec.id)))!.state).toBe('running');
    expect(Number((await store.db.get<{ n: number }>("SELECT SUM(n) AS n FROM job_counts WHERE deployment_id = 'dep_2' AND state = 'running'"))!.n)).toBe(1);
  });

  it("never moves a release back: an older job's late success leaves the newer release", async () => {
    await agent('ag_1');
    await agent('ag_2');
    const older = job('dep_old', 'ag_1', A, 1);
    const newer = job('dep_new', 'ag_1', B, 10);
    await store.set(keys.job(older.spec.id), older);
    await store.set(keys.job(newer.spec.id), newer);
    await finish(newer, 'succeeded', 11);
    // The older job's success arrives after the newer one's (an agent back from a network cut).
    await finish(older, 'succeeded', 12);
    expect(await rows()).toEqual([{ agent_id: 'ag_1', sha: B, deployment_id: 'dep_new', job_id: 'job_dep_new_ag_1', at: at(11) }]);

    // In order, each success moves the release forward.
    const first = job('dep_old', 'ag_2', A, 1);
    const then = job('dep_new', 'ag_2', B, 10);
    await store.set(keys.job(first.spec.id), first);
    await store.set(keys.job(then.spec.id), then);
    await finish(first, 'succeeded', 2);
    expect((await rows())[1]).toMatchObject({ agent_id: 'ag_2', sha: A });
    await finish(then, 'succeeded', 11);
    expect((await rows())[1]).toMatchObject({ agent_id: 'ag_2', sha: B, deployment_id: 'dep_new' });

    // A failure is no release: the server keeps what it ran.
    const failed = job('dep_bad', 'ag_2', C, 20);
    await store.set(keys.job(failed.spec.id), failed);
    await finish(failed, 'failed', 21);
    expect((await rows())[1]).toMatchObject({ agent_id: 'ag_2', sha: B });
  });

  it("removes an agent's releases with the agent", async () => {
    await agent('ag_1');
    await agent('ag_2');
    for (const a of ['ag_1', 'ag_2']) await store.set(keys.job(`job_dep_1_${a}`), job('dep_1', a, A, 1, 'succeeded'));
    expect((await rows()).map((r) => r.agent_id)).toEqual(['ag_1', 'ag_2']);
    await store.delete(keys.agent('ag_1'));
    expect((await rows()).map((r) => r.agent_id)).toEqual(['ag_2']);
  });

  it('migration 8 fills releases from the stored jobs: per environment and enrolled agent, its newest succeeded job', async () => {
    await agent('ag_1');
    await agent('ag_2');
    await agent('ag_gone');
    await deployment('dep_1', A, 0);
    await deployment('dep_2', B, 10);
    await deployment('dep_3', C, 20);
    await deployment('dep_p', C, 5, 'production');
    const jobs = [
      job('dep_1', 'ag_1', A, 1, 'succeeded'),
      job('dep_2', 'ag_1', B, 11, 'succeeded'),
      job('dep_3', 'ag_1', C, 21, 'failed'), // a failure is no release: ag_1 runs B
      job('dep_1', 'ag_2', A, 1, 'succeeded'),
      job('dep_2', 'ag_2', B, 11, 'cancelled'), // ag_2 still runs A
      job('dep_p', 'ag_1', C, 6, 'succeeded'), // another environment: its own release
      job('dep_1', 'ag_gone', A, 1, 'succeeded'),
    ];
    for (const j of jobs) await store.set(keys.job(j.spec.id), j);
    // A store of release 7: no releases table, the agent ag_gone removed then (its jobs stay).
    await store.db.exec('DROP TABLE releases');
    await store.db.run('DELETE FROM schema_migrations WHERE version = 8');
    await store.db.run('DELETE FROM agents WHERE key = ?', keys.agent('ag_gone'));

    const reopened = await stores.open();
    expect(await reopened.db.get('SELECT version FROM schema_migrations WHERE version = 8')).toBeDefined();
    const filled = await reopened.db.all<ReleaseRow & { environment: string }>('SELECT environment, agent_id, sha, deployment_id, job_id, at FROM releases ORDER BY environment, agent_id');
    expect(filled).toEqual([
      { environment: 'production', agent_id: 'ag_1', sha: C, deployment_id: 'dep_p', job_id: 'job_dep_p_ag_1', at: at(7) },
      { environment: 'staging', agent_id: 'ag_1', sha: B, deployment_id: 'dep_2', job_id: 'job_dep_2_ag_1', at: at(12) },
      { environment: 'staging', agent_id: 'ag_2', sha: A, deployment_id: 'dep_1', job_id: 'job_dep_1_ag_2', at: at(2) },
    ]);
    // The write path continues from there: a newer success moves ag_2 on.
    await reopened.set(keys.job('job_dep_3_ag_2'), job('dep_3', 'ag_2', C, 21, 'succeeded'));
    expect(await countReleasesOn(reopened, 'acme/shop', 'staging', C)).toEqual({ servers: 2, onSha: 1 });
  });

  it("pages an environment's servers by agent id, counts them on a commit, lists an agent's releases, and marks pruned deployments", async () => {
    await deployment('dep_1', A, 0);
    await deployment('dep_2', B, 10);
    const ids = ['ag_1', 'ag_2', 'ag_3', 'ag_4', 'ag_5'];
    for (const id of ids) {
      await agent(id);
      await store.set(keys.job(`job_dep_1_${id}`), job('dep_1', id, A, 1, 'succeeded'));
    }
    for (const id of ['ag_2', 'ag_4']) await store.set(keys.job(`job_dep_2_${id}`), job('dep_2', id, B, 11, 'succeeded'));
    await store.set(keys.job('job_dep_p_ag_2'), job('dep_p', 'ag_2', C, 3, 'succeeded', 'production'));

    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await pageOfReleases(store, 'acme/shop', 'staging', { limit: 2, ...(after ? { after } : {}) });
      seen.push(...page.releases.map((r) => `${r.agentName}:${r.sha[0]}`));
      after = page.next;
      if (!after) break;
    }
    expect(seen).toEqual(['web-ag_1:a', 'web-ag_2:b', 'web-ag_3:a', 'web-ag_4:b', 'web-ag_5:a']);
    expect(await countReleasesOn(store, 'acme/shop', 'staging', A)).toEqual({ servers: 5, onSha: 3 });
    expect(await countReleasesOn(store, 'acme/shop', 'staging', C)).toEqual({ servers: 5, onSha: 0 });
    expect(await countReleasesOn(store, 'acme/shop', 'nowhere', A)).toEqual({ servers: 0, onSha: 0 });

    const mine = await releasesOfAgent(store, 'ag_2', 10);
    expect(mine.map((r) => [r.environment, r.sha[0], r.deploymentId, r.deploymentKept])).toEqual([
      ['production', 'c', 'dep_p', false], // never stored here: as after retention pruned it
      ['staging', 'b', 'dep_2', true],
    ]);
    await store.delete(keys.deployment('dep_2'));
    expect((await releasesOfAgent(store, 'ag_2', 10))[1]).toMatchObject({ sha: B, deploymentId: 'dep_2', jobId: 'job_dep_2_ag_2', deploymentKept: false });
    expect(await releasesOfAgent(store, 'ag_2', 1)).toHaveLength(1);
  });
});
