/**
 * The admin API's environment actions on a real hub in the test process (local mode, real SQLite file, real config
 * repo and application repo over git HTTP), whose agent the test plays through the engine: the status of each
 * repository × environment, lock and unlock (a deploy refused naming the lock and how to release it), rollback to the
 * previous success or to the one named — each refusal a sentence saying what was wrong and what to do, each action
 * in the audit log as `api`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { SAMPLE_ENVIRONMENT as ENV, SAMPLE_REPOSITORY as REPO, sampleAppFiles } from '../../testbed/sample-app.js';
import { stateEvent } from '../helpers/engine-fixture.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

let t: TestHub;
let agentId: string;
beforeAll(async () => {
  t = await startTestHub();
  agentId = (await t.enroll('web-1')).agentId;
});
afterAll(async () => t?.close());

const api = (method: string, path: string, body?: unknown) => t.call(method, `/api/v1${path}`, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });

/** Plays the agent: its next job runs and ends `outcome`. */
async function agentRuns(engine: RolloutEngine, outcome: 'succeeded' | 'failed' = 'succeeded'): Promise<void> {
  const job = await engine.nextJob(agentId);
  if (!job) throw new Error('no job for web-1');
  await engine.claimJob(agentId, job.id, `cl_${job.id}`);
  await engine.appendEvents(agentId, job.id, `cl_${job.id}`, [stateEvent(1, 'running'), stateEvent(2, outcome)]);
}

async function deployed(): Promise<{ id: string; sha: string }> {
  const res = await api('POST', '/deployments', { repository: REPO, ref: 'main', environment: ENV });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  await agentRuns(t.hub.engine);
  return { id: res.json.deployment.id, sha: res.json.deployment.sha };
}

const status = async () => (await api('GET', `/environments?repository=${encodeURIComponent(REPO)}`)).json.environments[0];

describe('GET /api/v1/environments', () => {
  it('lists every configured repository × environment; unknown names are refused with the known ones', async () => {
    const res = await api('GET', '/environments');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ mode: 'local', environments: [{ repository: REPO, environment: ENV }] });

    const repo = await api('GET', '/environments?repository=acme/nope');
    expect([repo.status, repo.json.error.code, repo.json.error.message]).toEqual([404, 'BE_NOT_FOUND', `repository \`acme/nope\` is not configured; configured: ${REPO}`]);
    const env = await api('GET', `/environments?repository=${encodeURIComponent(REPO)}&environment=prod`);
    expect([env.status, env.json.error.message]).toEqual([404, `${REPO} has no environment \`prod\`; its environments: ${ENV}`]);
    const limit = await api('GET', '/environments?limit=0');
    expect([limit.status, limit.json.error.message]).toEqual([400, 'limit: expected a whole number from 1 to 200, got "0"']);
    expect((await t.call('GET', '/api/v1/environments')).status).toBe(401);
  });
});

describe('lock, unlock and rollback through the admin API', () => {
  it('locks: a deploy is refused naming the lock and how to unlock; unlocking lets it go; every step audited as `api`', async () => {
    const first = await deployed();
    expect(await status()).toMatchObject({ live: { deploymentId: first.id, sha: first.sha, state: 'success', createdBy: 'api' } });

    const locked = await api('POST', '/environments/lock', { repository: REPO, environment: ENV, reason: 'db migration', for: '2h', by: 'alice' });
    expect(locked.status, JSON.stringify(locked.json)).toBe(201);
    expect(locked.json.lock).toMatchObject({ repository: REPO, environment: ENV, by: 'alice', reason: 'db migration', expiresAt: expect.any(String) });
    expect(Date.parse(locked.json.lock.expiresAt) - Date.parse(locked.json.lock.at)).toBe(2 * 3_600_000);
    expect(locked.json.message).toContain(`\`bitenvoy unlock -r ${REPO} -e ${ENV}\` releases it`);
    expect(await status()).toMatchObject({ lock: { by: 'alice', reason: 'db migration' } });

    const refused = await api('POST', '/deployments', { repository: REPO, ref: 'main', environment: ENV });
    expect([refused.status, refused.json.error.code]).toEqual([409, 'BE_GUARD_RAIL']);
    expect(refused.json.error.message).toMatch(new RegExp(`^cannot deploy \`[0-9a-f]{7}\` to \`${ENV}\`: \`${ENV}\` is locked by @alice since .*: db migration; \`bitenvoy unlock -r ${REPO} -e ${ENV}\` releases it$`));
    const again = await api('POST', '/environments/lock', { repository: REPO, environment: ENV, by: 'bob' });
    expect([again.status, again.json.error.code]).toEqual([409, 'BE_CONFLICT']);
    expect(again.json.error.message).toMatch(/is locked by @alice .*db migration; `bitenvoy unlock -r demo\/shop -e staging` releases it first$/);
    const rollback = await api('POST', '/environments/rollback', { repository: REPO, environment: ENV });
    expect([rollback.status, rollback.json.error.code]).toEqual([409, 'BE_GUARD_RAIL']);
    expect(rollback.json.error.message).toMatch(/^cannot roll back `staging`: `staging` is locked by @alice/);

    const unlocked = await api('POST', '/environments/unlock', { repository: REPO, environment: ENV });
    expect(unlocked.status, JSON.stringify(unlocked.json)).toBe(200);
    expect(unlocked.json).toMatchObject({ released: { by: 'alice', reason: 'db migration' }, resumed: [] });
    expect(await status()).not.toHaveProperty('lock');
    const twice = await api('POST', '/environments/unlock', { repository: REPO, environment: ENV });
    expect([twice.status, twice.json.error.message]).toEqual([409, `\`${ENV}\` of ${REPO} is not locked`]);

    const entries = (await api('GET', `/audit?repository=${encodeURIComponent(REPO)}`)).json.entries as Array<{ actor: string; action: string; outcome: string }>;
    expect(entries.filter((e) => ['lock', 'unlock'].includes(e.action)).map((e) => [e.actor, e.action, e.outcome])).toEqual([
      ['api', 'lock', 'locked'],
      ['api', 'lock', 'refused'],
      ['api', 'unlock', 'unlocked'],
    ]);
  });

  it('refuses what cannot be locked or rolled back, saying what to send', async () => {
    const bad = await api('POST', '/environments/lock', { repository: REPO });
    expect([bad.status, bad.json.error.message]).toEqual([400, '`environment` is missing: name the environment, or send `global: true` for every environment of the repository']);
    const unit = await api('POST', '/environments/lock', { repository: REPO, environment: ENV, for: '2' });
    expect([unit.status, unit.json.error.message]).toEqual([400, 'for: `2` has no unit; write `2s`, `2m` or `2h`']);
    const env = await api('POST', '/environments/lock', { repository: REPO, environment: 'prod' });
    expect([env.status, env.json.error.message]).toEqual([404, `${REPO} has no environment \`prod\`; its environments: ${ENV}`]);
    const to = await api('POST', '/environments/rollback', { repository: REPO, environment: ENV, to: 'main' });
    expect([to.status, to.json.error.code]).toEqual([400, 'BE_BAD_REQUEST']);
    expect(to.json.error.message).toMatch(/^to: /);
  });

  it('rolls back to the previous success, or to the one named, as a new deployment marked as a rollback', async () => {
    const first = (await status()).live as { deploymentId: string; sha: string };
    // Only one commit ever succeeded: nothing to go back to.
    const none = await api('POST', '/environments/rollback', { repository: REPO, environment: ENV });
    expect([none.status, none.json.error.message]).toEqual([409, `\`${ENV}\` has no earlier successful commit to roll back to (only \`${first.sha.slice(0, 7)}\` ever succeeded there)`]);

    await pushCommit(t.appRepo, sampleAppFiles('2'), 'version 2');
    const second = await deployed();
    expect(second.sha).not.toBe(first.sha);
    const same = await api('POST', '/environments/rollback', { repository: REPO, environment: ENV, to: second.sha.slice(0, 8) });
    expect([same.status, same.json.error.message]).toEqual([409, `\`${ENV}\` runs \`${second.sha.slice(0, 7)}\` already (deployment ${second.id}): nothing to roll back; \`bitenvoy deploy\` deploys it again`]);
    const unknown = await api('POST', '/environments/rollback', { repository: REPO, environment: ENV, to: '0000000' });
    expect([unknown.status, unknown.json.error.message]).toEqual([404, `no successful deployment of \`0000000\` on \`${ENV}\` of ${REPO}: a rollback goes back only to a commit that succeeded there`]);

    const back = await api('POST', '/environments/rollback', { repository: REPO, environment: ENV });
    expect(back.status, JSON.stringify(back.json)).toBe(201);
    expect(back.json.deployment).toMatchObject({ sha: first.sha, environment: ENV, rollbackOf: second.id, trigger: 'rollback', createdBy: 'api' });
    expect(back.json).toMatchObject({ from: { deploymentId: second.id, sha: second.sha }, to: { deploymentId: first.deploymentId, sha: first.sha } });
    await agentRuns(t.hub.engine);
    expect(await status()).toMatchObject({ live: { deploymentId: back.json.deployment.id, sha: first.sha, trigger: 'rollback', rollbackOf: second.id } });

    // Forward again to the second commit, named by its deployment.
    const forward = await api('POST', '/environments/rollback', { repository: REPO, environment: ENV, to: second.id });
    expect(forward.status, JSON.stringify(forward.json)).toBe(201);
    expect(forward.json.deployment).toMatchObject({ sha: second.sha, rollbackOf: back.json.deployment.id });
    await agentRuns(t.hub.engine, 'failed');
    const failed = forward.json.deployment.id as string;
    const notGood = await api('POST', '/environments/rollback', { repository: REPO, environment: ENV, to: failed });
    expect([notGood.status, notGood.json.error.message]).toEqual([409, `deployment ${failed} ended \`failure\`: a rollback goes back only to a deployment that succeeded`]);
    expect(await status()).toMatchObject({ live: { sha: first.sha }, latest: { deploymentId: failed, state: 'failure' } });

    const entries = (await api('GET', `/audit?repository=${encodeURIComponent(REPO)}`)).json.entries as Array<{ actor: string; action: string; outcome: string; sha: string }>;
    expect(entries.filter((e) => e.action === 'rollback').map((e) => [e.actor, e.outcome, e.sha])).toEqual([
      ['api', 'started', first.sha],
      ['api', 'started', second.sha],
    ]);
  });
});
