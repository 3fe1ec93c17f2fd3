/**
 * A store written by the release before schemas (test/fixtures/store-release-0, made by commit 620648a's own code:
 * one agent enrolled, a finished rollout with a log, a second one running with a claimed job, an audit entry, a
 * sign-in session) opens on this release: every record moves into its table, the index keys it kept are gone, the
 * named queries answer as the old keys did, and the running rollout goes on to the end.
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { hashSecret } from '../../app/enroll/create-enroll-token.js';
import { keys, type DeploymentRecord, type JobRecord } from '../../app/model.js';
import { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { agentByCredential } from '../../app/store/agent-queries.js';
import { activeDeploymentIds, latestSuccessful } from '../../app/store/deployment-queries.js';
import { jobCountsOf, nextPendingJob } from '../../app/store/job-queries.js';
import { openStore } from '../../app/store/open-store.js';
import { releasesOfAgent } from '../../app/store/release-queries.js';
import type { SqlStore } from '../../app/store/sql-store.js';
import { silentLogger } from '../../lib/logger.js';
import { configWith, ENGINE_SETTINGS, stateEvent } from '../helpers/engine-fixture.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'store-release-0');

interface About {
  credential: string;
  agentA: string;
  agentB: string;
  succeeded: string;
  running: string;
  runningJob: string;
  loggedJob: string;
  now: number;
}

let dir: string;
let about: About;
let store: SqlStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-migrate-'));
  await cp(join(FIXTURE, 'hub.sqlite'), join(dir, 'hub.sqlite'));
  about = JSON.parse(await readFile(join(FIXTURE, 'about.json'), 'utf8')) as About;
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

it('moves every record into its table and drops the index keys the tables replace', async () => {
  const versions = await store.db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  expect(versions.map((v) => Number(v.version))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const left = (await store.db.all<{ key: string }>('SELECT key FROM kv ORDER BY key')).map((r) => r.key.replace(/:.*/, ':'));
  expect(left).toEqual(['agent-name:', 'dashboard-session:', 'enroll-token:', 'env-slot:']);
  const counts = await store.db.all<{ t: string; n: number }>(
    "SELECT 'deployments' AS t, COUNT(*) AS n FROM deployments UNION ALL SELECT 'jobs', COUNT(*) FROM jobs UNION ALL SELECT 'agents', COUNT(*) FROM agents UNION ALL SELECT 'audit', COUNT(*) FROM audit_entries UNION ALL SELECT 'logs', COUNT(*) FROM log_entries",
  );
  expect(Object.fromEntries(counts.map((c) => [c.t, Number(c.n)]))).toEqual({ deployments: 2, jobs: 3, agents: 2, audit: 1, logs: 1 });
  expect(await store.get('dashboard-session:abc')).toEqual({ createdAt: 'x' });
});

it('answers the named queries as the old keys did', async () => {
  expect((await agentByCredential(store, hashSecret(about.credential)))?.id).toBe(about.agentA);
  expect(await activeDeploymentIds(store)).toEqual([about.running]);
  expect((await latestSuccessful(store, 'acme/shop', 'staging'))?.id).toBe(about.succeeded);
  expect(await nextPendingJob(store, about.agentA)).toBeUndefined();
  expect(await jobCountsOf(store, about.running)).toEqual([{ batch: 0, state: 'running', n: 1 }]);
  expect((await store.list(keys.logPrefix(about.loggedJob))).map((e) => e.value)).toHaveLength(1);
  const dep = (await store.get<DeploymentRecord>(keys.deployment(about.running)))!;
  expect(dep.batches.map((b) => b.agentIds)).toEqual([[about.agentA], [about.agentB]]);
  // Migration 8 made the moved jobs' successes releases: the succeeded deployment's server runs its commit.
  const succeeded = (await store.get<DeploymentRecord>(keys.deployment(about.succeeded)))!;
  expect((await releasesOfAgent(store, about.agentA, 10)).map((r) => [r.environment, r.sha, r.deploymentId])).toEqual([['staging', succeeded.sha, about.succeeded]]);
});

it('goes on with the running rollout after the upgrade, to the end', async () => {
  let now = about.now + 1_000;
  const engine = new RolloutEngine({ store, log: silentLogger(), settings: ENGINE_SETTINGS, config: () => configWith('one-at-a-time'), now: () => now, resolveRef: async () => 'b'.repeat(40) });
  await engine.start();
  try {
    await engine.appendEvents(about.agentA, about.runningJob, 'cl_2', [stateEvent(2, 'succeeded')]);
    const next = await engine.nextJob(about.agentB);
    expect(next?.deploymentId).toBe(about.running);
    await engine.claimJob(about.agentB, next!.id, 'cl_b');
    await engine.appendEvents(about.agentB, next!.id, 'cl_b', [stateEvent(1, 'running'), stateEvent(2, 'succeeded')]);
    now += 1_000;
    await engine.checkLeases();
    expect(await store.get<DeploymentRecord>(keys.deployment(about.running))).toMatchObject({ state: 'success', description: '2/2 servers succeeded' });
    expect((await store.get<JobRecord>(keys.job(next!.id)))?.state).toBe('succeeded');
  } finally {
    engine.stop();
  }
});

it('opens the migrated store again without migrating twice', async () => {
  await store.close();
  store = await openStore({ dataDir: dir });
  expect((await store.db.all('SELECT version FROM schema_migrations')).length).toBe(10);
  expect(await activeDeploymentIds(store)).toEqual([about.running]);
});

it('refuses a store written by a newer release, saying what to do', async () => {
  await store.db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', '2030-01-01')");
  await store.close();
  const opened = openStore({ dataDir: dir });
  await expect(opened).rejects.toMatchObject({ code: 'BE_STORE_NEWER' });
  await expect(opened).rejects.toThrow(/has schema version 99, newer than this BitEnvoy knows \(10\): a newer release wrote it\. Run that release \(or newer\), or restore a backup/);
  await rm(dir, { recursive: true, force: true });
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-migrate-'));
  store = await openStore({ dataDir: dir });
});
