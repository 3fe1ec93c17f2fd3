/**
 * Pull-request commands through `probot.receive` with GitHub's example `issue_comment` payload (made a pull-request
 * comment, as GitHub sends it), GitHub answered by nock, every request checked against GitHub's REST description
 * for github.com and GHES.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import type { Probot } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listAudit } from '../../app/audit/audit-log.js';
import { createAppFn } from '../../app/github/app.js';
import type { GitHubOutbox } from '../../app/github/github-outbox.js';
import type { GitHubStatusReporter } from '../../app/github/status-reporter.js';
import { keys, type AgentRecord, type DeploymentRecord } from '../../app/model.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import type { Environment } from '../../config-schema/types.generated.js';
import { BUILT_IN_STRATEGIES, type LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { silentLogger } from '../../lib/logger.js';
import { createGitHubAppRig } from '../helpers/github-app-rig.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- GitHub's example JSON
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: Json[] }>;
const commentExample = examples.find((e) => e.name === 'issue_comment')!.examples.find((e) => e.action === 'created')!;

const REPO = 'Codertocat/Hello-World';
const HEAD = 'a'.repeat(40);
const OLD = 'b'.repeat(40);

let dir: string;
let store: Store;
let engine: RolloutEngine;
let reporter: GitHubStatusReporter;
let outbox: GitHubOutbox;
let probot: Probot;
let envs: Record<string, Environment>;
let repositoryConfigured: boolean;
let permission: string;
let teamMembers: string[];
let pull: Json;
let checkRuns: Json[];
let replies: string[];
let reactions: Json[];
/** What GitHub took, in order: `reaction` or `reply`. */
let sent: string[];
let created: Json[];
/** How GitHub answers the next creates of a deployment (a status each) before it takes them again. */
let createFaults: number[];
let statuses: Json[];
let problems: string[];
let unlocked: string[];

const config = (): LoadedConfig & { sha: string } => ({
  sha: 'c'.repeat(40),
  groups: { web: { selector: { matchLabels: { role: 'web' } } } },
  strategies: { ...BUILT_IN_STRATEGIES, bird: { type: 'canary', canary: { size: 1, pause: 'manual' } } },
  repositories: repositoryConfigured ? { [REPO]: { name: REPO, file: `repositories/${REPO}.yml`, instructions: 'bitenvoy.yml', environments: envs } } : {},
});

/** Every reply ends with its hidden outbox marker (reply-effect.ts): checked here once, then left out of the texts. */
function withoutMarker(body: string): string {
  const marker = /\n\n<!-- bitenvoy:effect [0-9a-f-]{36} -->$/;
  if (!marker.test(body)) problems.push(`a reply without its marker: ${body}`);
  return body.replace(marker, '');
}

function answerGitHub(contracts: GitHubContract[]): void {
  const check = (method: string, path: string, body?: unknown) => problems.push(...contracts.flatMap((c) => c.problems(method, path, body)));
  let body: Json = {};
  let path = '';
  const see = (p: string) => ((path = p), true);
  nock('https://api.github.com')
    .persist()
    .post('/app/installations/1/access_tokens')
    .reply(201, () => ({ token: 'ghs_test', expires_at: new Date(Date.now() + 3600_000).toISOString() }))
    .post(`/repos/${REPO}/issues/comments/${commentExample.comment.id}/reactions`, (b: Json) => ((body = b), true))
    .reply(201, () => (check('POST', `/repos/${REPO}/issues/comments/1/reactions`, body), reactions.push(body), sent.push('reaction'), {}))
    .post(`/repos/${REPO}/issues/1/comments`, (b: Json) => ((body = b), true))
    .reply(201, () => (check('POST', `/repos/${REPO}/issues/1/comments`, body), replies.push(withoutMarker(String(body.body))), sent.push('reply'), {}))
    .get(see)
    .query(true)
    .reply(() => {
      check('GET', path);
      if (/\/collaborators\/[^/]+\/permission/.test(path)) return [200, { permission: permission === 'maintain' ? 'write' : permission, role_name: permission }];
      const team = /^\/orgs\/([^/]+)\/teams\/([^/]+)\/memberships\/([^/?]+)/.exec(path);
      if (team) return teamMembers.includes(`${team[1]}/${team[2]}:${team[3]}`) ? [200, { state: 'active', role: 'member' }] : [404, { message: 'Not Found' }];
      if (path.startsWith(`/repos/${REPO}/pulls/1`)) return [200, pull];
      if (path.includes('/check-runs')) return [200, { total_count: checkRuns.length, check_runs: checkRuns }];
      if (path.includes('/status')) return [200, { state: 'pending', total_count: 0, statuses: [] }];
      // What a create whose answer was lost looks at: the deployments GitHub made, newest first.
      if (path.split('?')[0] === `/repos/${REPO}/deployments`) return [200, created.map((b, i) => ({ id: 901 + i, sha: b.ref, ref: b.ref, environment: b.environment, payload: b.payload })).reverse()];
      return [404, { message: `no answer for ${path}` }];
    })
    .post(`/repos/${REPO}/deployments`, (b: Json) => ((body = b), true))
    .reply(() => {
      check('POST', `/repos/${REPO}/deployments`, body);
      const fault = createFaults.shift();
      if (fault) return [fault, { message: 'Server Error' }];
      created.push(body);
      return [201, { id: 900 + created.length, sha: body.ref, ref: body.ref, environment: body.environment, payload: body.payload, creator: { login: 'bitenvoy[bot]' } }];
    })
    .post((p: string) => see(p) && /\/deployments\/\d+\/statuses$/.test(p), (b: Json) => ((body = b), true))
    .reply(201, () => (check('POST', path, body), statuses.push({ deployment: Number(path.split('/')[5]), ...body }), {}));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-cmd-'));
  store = await openStore({ dataDir: dir });
  envs = {
    staging: { branch: 'master', group: 'web' },
    production: { branch: 'master', group: 'web', after: 'staging', deployers: { teams: ['Codertocat/platform'] }, forceUsers: ['hubot'], lockTimeout: '1h' },
  };
  repositoryConfigured = true;
  permission = 'write';
  teamMembers = [];
  pull = { number: 1, state: 'open', draft: false, head: { sha: HEAD, ref: 'feature', repo: { full_name: REPO } }, base: { ref: 'master' } };
  checkRuns = [{ id: 1, name: 'test', status: 'completed', conclusion: 'success', started_at: '2026-11-25T10:00:00Z', completed_at: '2026-11-25T10:00:00Z' }];
  replies = [];
  reactions = [];
  sent = [];
  created = [];
  createFaults = [];
  statuses = [];
  problems = [];
  // The reaction, the replies and the deployments go through the durable outbox, on the test's store, as in the hub.
  ({ probot, reporter, engine, outbox } = createGitHubAppRig(store, config));
  unlocked = [];
  const onUnlocked = async (repository: string, environment: string | undefined) => {
    unlocked.push(`${repository}:${environment ?? '*'}`);
    return environment ? [environment] : [];
  };
  const commands = { store, engine, configs: { current: () => config() }, octokitFor: (id: number) => probot.auth(id), outbox, log: silentLogger(), publicUrl: () => 'https://hub.example', onUnlocked };
  await probot.load(createAppFn({ engine, store, reporter, commands }));
  for (const [id, name] of [['ag_1', 'web-1'], ['ag_2', 'web-2']] as const) {
    const agent: AgentRecord = { id, name, labels: { role: 'web' }, version: 't', credentialHash: 'x', enrolledAt: new Date().toISOString(), lastSeenAt: new Date().toISOString() };
    await store.set(keys.agent(agent.id), agent);
  }
  answerGitHub(await Promise.all([loadGitHubContract('api.github.com'), loadGitHubContract('ghes-3.19')]));
});

afterEach(async () => {
  await reporter.idle();
  await outbox.idle();
  outbox.close();
  engine.stop();
  nock.cleanAll();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** `login` comments `body` on pull request #1. */
async function comment(body: string, login = 'Codertocat', action = 'created'): Promise<string | undefined> {
  const payload = structuredClone(commentExample);
  payload.action = action;
  payload.issue.pull_request = { url: `https://api.github.com/repos/${REPO}/pulls/1`, html_url: `https://github.com/${REPO}/pull/1`, diff_url: '', patch_url: '' };
  payload.comment.body = body;
  payload.comment.user.login = login;
  payload.installation = { id: 1, node_id: 'MDIz' };
  const before = replies.length;
  await probot.receive({ id: `c-${Math.random()}`, name: 'issue_comment', payload } as never);
  await reporter.idle();
  await outbox.idle();
  expect(problems).toEqual([]);
  return replies.length > before ? replies.at(-1) : undefined;
}

/** Marks a finished, successful rollout of `sha` on `environment` (what /status, /rollback and promotion read). */
async function succeeded(environment: string, sha: string, at: string): Promise<void> {
  const id = `dep_${sha.slice(0, 4)}${environment.slice(0, 4)}${at.slice(11, 13)}`;
  const dep: DeploymentRecord = {
    id, repository: REPO, environment, ref: sha, sha, state: 'success', description: '2/2 servers succeeded', strategy: 'all-at-once', group: 'web', configSha: 'c', batches: [],
    currentBatch: 0, skipped: [], createdBy: 'github:octocat', createdAt: at, updatedAt: at, finishedAt: at,
  };
  await store.set(keys.deployment(id), dep);
}

describe('/deploy', () => {
  it("deploys the pull request's head SHA, reacts at once and replies with the page", async () => {
    const reply = await comment('/deploy staging');
    expect(reactions).toEqual([{ content: 'eyes' }]);
    expect(sent).toEqual(['reaction', 'reply']);
    expect(await store.db.all('SELECT id FROM github_effects')).toEqual([]);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ ref: HEAD, environment: 'staging', auto_merge: false, required_contexts: [], payload: { bitenvoy: { trigger: 'command', actor: 'Codertocat', pullRequest: 1 } } });
    const [rollout] = await engine.listDeployments();
    expect(rollout).toMatchObject({ sha: HEAD, environment: 'staging', createdBy: 'github:Codertocat', github: { deploymentId: 901 } });
    expect(reply).toBe(`@Codertocat deploying \`aaaaaaa\` to \`staging\`: https://hub.example/deployments/${rollout!.id}`);
    expect(await listAudit(store)).toMatchObject([{ actor: 'Codertocat', action: 'deploy', environment: 'staging', sha: HEAD, outcome: 'started', deploymentId: rollout!.id }]);
  });

  it('replies that the deployment is queued while GitHub fails to create it, and creates it and starts the rollout when GitHub answers', async () => {
    createFaults.push(502, 502);
    const reply = await comment('/deploy staging');
    // The reply was queued behind the create: GitHub got it once it took the deployment.
    expect(sent).toEqual(['reaction', 'reply']);
    expect(created).toHaveLength(1);
    const [rollout] = await engine.listDeployments();
    expect(rollout).toMatchObject({ sha: HEAD, environment: 'staging', github: { deploymentId: 901 } });
    expect(reply).toMatch(
      new RegExp(`^@Codertocat ⏳ \`aaaaaaa\` to \`staging\` is queued: GitHub did not take the deployment at once \\(GitHub answered 502 .*\\)\\. The hub creates it as soon as GitHub answers, and the rollout starts then: https://hub\\.example/deployments/${rollout!.id}$`),
    );
    expect(await store.db.all('SELECT id FROM github_effects')).toEqual([]);
  });

  it.each<[string, () => void, string, string]>([
    ['read permission', () => (permission = 'read'), '/deploy staging', 'only people with write, maintain or admin permission on Codertocat/Hello-World can do that (you have read)'],
    ['not in the deployers team', () => (permission = 'admin'), '/deploy production', '`production` is deployed only by @Codertocat/platform'],
    ['a fork', () => (pull.head.repo = { full_name: 'stranger/Hello-World' }), '/deploy staging', 'this pull request comes from a fork (stranger/Hello-World)'],
    ['a draft', () => (pull.draft = true), '/deploy staging', 'this pull request is a draft'],
    ['red checks', () => (checkRuns[0]!.conclusion = 'failure'), '/deploy staging', 'its checks are not green (checks failed: test (failure))'],
    ['--force by someone not allowed', () => (checkRuns[0]!.conclusion = 'failure'), '/deploy staging --force', '`--force` is allowed only for nobody here'],
    ['an unknown environment', () => undefined, '/deploy moon', 'Codertocat/Hello-World has no environment `moon`; its environments: `staging`, `production`'],
    ['promotion order', () => teamMembers.push('Codertocat/platform:Codertocat'), '/deploy production', '`production` takes only commits live on `staging` first; `staging` runs nothing yet'],
  ])('refuses %s', async (_what, arrange, body, reason) => {
    arrange();
    const reply = await comment(body);
    expect(reply).toContain(reason);
    expect(created).toEqual([]);
    expect(await engine.listDeployments()).toEqual([]);
    expect((await listAudit(store)).at(-1)).toMatchObject({ outcome: 'refused', actor: 'Codertocat' });
  });

  it('lets a named user force past red checks, and says so in the status', async () => {
    checkRuns[0]!.conclusion = 'failure';
    envs.staging = { ...envs.staging!, forceUsers: ['Codertocat'] };
    const reply = await comment('/deploy staging --force');
    expect(reply).toMatch(/forced past red checks/);
    expect(created[0]!.payload.bitenvoy.forced).toBe(true);
    const [rollout] = await engine.listDeployments();
    expect(rollout!.forced).toBe(true);
    expect(statuses.map((s) => s.description)).toEqual(['forced · 0/2 servers · batch 1/1']);
    expect((await listAudit(store)).at(-1)).toMatchObject({ forced: true, outcome: 'started' });
  });

  it('promotes a commit live on staging to production for a platform team member', async () => {
    teamMembers.push('Codertocat/platform:Codertocat');
    await succeeded('staging', HEAD, '2026-11-25T09:00:00.000Z');
    expect(await comment('/deploy production')).toMatch(/^@Codertocat deploying `aaaaaaa` to `production`/);
    expect(created).toHaveLength(1);
  });

  it('queues a second request behind the running rollout, and a third supersedes the second', async () => {
    await comment('/deploy staging');
    const waiting = await comment('/deploy staging', 'hubot');
    const [second, first] = await engine.listDeployments();
    expect(waiting).toBe(`@hubot deploying \`aaaaaaa\` to \`staging\`: https://hub.example/deployments/${second!.id} — it waits for ${first!.id}, the rollout running there now (a newer request replaces it while it waits)`);
    await comment('/deploy staging', 'Codertocat');
    const third = (await engine.listDeployments())[0]!;
    expect(statuses.filter((s) => s.deployment === 902).map((s) => [s.state, s.description])).toEqual([
      ['queued', `waiting for ${first!.id} to finish`],
      ['error', `superseded by ${third.id} before it started`],
    ]);
    expect(third.waitingFor).toBe(first!.id);
  });

  it('answers --dry-run with the plan and what blocks it, creating nothing', async () => {
    pull.draft = true;
    const reply = await comment('/deploy staging --dry-run');
    expect(reply).toContain('**Dry run** of `/deploy staging`');
    expect(reply).toContain(`- commit: \`${HEAD}\``);
    expect(reply).toContain('- batch 1: web-1, web-2');
    expect(reply).toContain('- blocked: this pull request is a draft');
    expect(created).toEqual([]);
    expect(await engine.listDeployments()).toEqual([]);
  });
});

describe('/rollback, /lock, /unlock, /status, /help', () => {
  it('rolls back to the last commit that succeeded before the current one, as a new deployment', async () => {
    await succeeded('staging', OLD, '2026-11-25T08:00:00.000Z');
    await succeeded('staging', HEAD, '2026-11-25T09:00:00.000Z');
    const reply = await comment('/rollback staging');
    expect(reply).toMatch(/^@Codertocat rolling `staging` back from `aaaaaaa` to `bbbbbbb`/);
    expect(created[0]).toMatchObject({ ref: OLD, environment: 'staging', payload: { bitenvoy: { trigger: 'rollback' } } });
  });

  it('/continue lets a canary held at its manual gate go on', async () => {
    envs.preview = { branch: 'master', group: 'web', strategy: 'bird' };
    expect(await comment('/continue preview')).toBe('@Codertocat no rollout of `preview` is paused; `/continue` releases one waiting between batches');
    await comment('/deploy preview');
    const [rollout] = await engine.listDeployments();
    const job = (await engine.nextJob('ag_1'))!;
    await engine.claimJob('ag_1', job.id, 'cl_1');
    await engine.appendEvents('ag_1', job.id, 'cl_1', [{ seq: 1, at: new Date().toISOString(), type: 'state', state: 'succeeded' }]);
    expect(await engine.nextJob('ag_2')).toBeUndefined();
    expect(await comment('/continue preview')).toBe(`@Codertocat ▶️ the rollout of \`aaaaaaa\` to \`preview\` goes on after batch 1/2: https://hub.example/deployments/${rollout!.id}`);
    expect((await engine.nextJob('ag_2'))?.deploymentId).toBe(rollout!.id);
    expect((await listAudit(store)).at(-1)).toMatchObject({ action: 'continue', environment: 'preview', outcome: 'continued' });
  });

  it('has nothing to roll back to after a single success', async () => {
    await succeeded('staging', HEAD, '2026-11-25T09:00:00.000Z');
    expect(await comment('/rollback staging')).toContain('`staging` has no earlier successful commit to roll back to (only `aaaaaaa` ever succeeded there)');
  });

  it('locks an environment against deploys, shows the lock, and unlocks it', async () => {
    expect(await comment('/lock staging "db migration"')).toMatch(/^@Codertocat 🔒 `staging` is locked by @Codertocat since .* UTC: db migration/);
    expect(await comment('/deploy staging', 'hubot')).toMatch(/cannot deploy `aaaaaaa` to `staging`: `staging` is locked by @Codertocat .*: db migration/);
    expect(await comment('/lock staging', 'hubot')).toMatch(/already locked by @Codertocat/);
    const status = await comment('/status');
    expect(status).toContain('| `staging` | – | – | – | never deployed | 🔒 @Codertocat: db migration |');
    expect(await comment('/unlock staging')).toBe('@Codertocat 🔓 `staging` unlocked (it was locked by @Codertocat: db migration). Automatic deploys it held back now ship the head of their branch (`staging`) once its checks pass.');
    expect(unlocked).toEqual([`${REPO}:staging`]);
    expect(await comment('/deploy staging')).toMatch(/deploying `aaaaaaa` to `staging`/);
    expect((await listAudit(store)).map((e) => `${e.action}:${e.outcome}`)).toEqual(['lock:locked', 'deploy:refused', 'lock:refused', 'unlock:unlocked', 'deploy:started']);
  });

  it('a global lock holds every environment', async () => {
    await comment('/lock --global release freeze');
    expect(await comment('/deploy staging')).toContain('every environment is locked (global lock) by @Codertocat');
    expect(await comment('/unlock staging')).toContain('(a global lock holds it: `/unlock --global`)');
  });

  it('shows per environment what is deployed, when, by whom and its state', async () => {
    await succeeded('staging', HEAD, '2026-11-25T09:00:00.000Z');
    const status = await comment('/status');
    expect(status).toContain('| `staging` | `aaaaaaa` | 2026-11-25T09:00:00.000Z | @octocat | [success](https://hub.example/deployments/dep_aaaastag09) | – |');
    expect(status).toContain('| `production` | – | – | – | never deployed | – |');
  });

  it('lists commands and environments for /help and unknown commands', async () => {
    expect(await comment('/help')).toContain('Environments of Codertocat/Hello-World: `staging` (branch `master`, group `web`), `production` (branch `master`, group `web`, after `staging`)');
    expect(await comment('/deplyo staging')).toMatch(/^@Codertocat `\/deplyo` is not a BitEnvoy command\.\n\nBitEnvoy commands/);
  });

  it('in a repository BitEnvoy does not deploy, answers only its own changing commands', async () => {
    repositoryConfigured = false;
    expect(await comment('/help')).toBeUndefined();
    expect(await comment('/status')).toBeUndefined();
    expect(reactions).toEqual([]);
    expect(await comment('/deploy staging')).toBe('@Codertocat Codertocat/Hello-World is not set up for BitEnvoy: add `repositories/Codertocat/Hello-World.yml` to the config repo (and check that the config in force is valid).');
    expect(created).toEqual([]);
  });

  it('does nothing for talk, code blocks, edited comments and plain issues', async () => {
    expect(await comment('we should /deploy staging')).toBeUndefined();
    expect(await comment('```\n/deploy staging\n```')).toBeUndefined();
    expect(await comment('/deploy staging', 'Codertocat', 'edited')).toBeUndefined();
    const payload: Json = { ...structuredClone(commentExample), installation: { id: 1 } };
    payload.comment.body = '/deploy staging';
    await probot.receive({ id: 'plain-issue', name: 'issue_comment', payload } as never);
    await outbox.idle();
    expect(reactions).toEqual([]);
    expect(created).toEqual([]);
  });
});
