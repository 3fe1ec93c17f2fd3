/**
 * The hub as a GitHub App, end to end: a hub process in GitHub mode talks to a local GitHub stand-in (as GitHub
 * Enterprise Server, through GHE_HOST and GHE_PROTOCOL=http), reads its config from the owner's `.bitenvoy`
 * repository with an installation token, and two real agents fetch the application over git HTTP with one-repository
 * tokens. Every request the hub makes to the stand-in is checked against GitHub's published REST description.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY, sampleAppFiles } from '../../testbed/sample-app.js';
import type { StandInDeployment } from '../../testbed/github-stand-in.js';
import { runCli } from '../../testbed/processes.js';
import { startWorld, type World } from '../../testbed/world.js';
import { until } from '../helpers/until.js';

const E2E_TIMEOUT = 120_000;
const CONFIG_REPO = 'demo/.bitenvoy';


describe('the GitHub App against a local GitHub', () => {
  let world: World;
  const github = () => world.github!;
  const finalStatus = (d: StandInDeployment) => d.statuses.map((s) => s.state as string).find((s) => ['success', 'failure', 'error'].includes(s));
  const healthz = async () => (await (await fetch(`${world.hub.url}/healthz`)).json()) as { mode: string; configRepos: Array<{ source: string; sha?: string; rejected?: { sha: string } }> };

  beforeAll(async () => {
    // `/deploy` on a pull request ships its branch's head: the servers' owner allows that branch (enrollment pins only
    // the environments' branches by default).
    // The status page is read below without signing in: public, as BITENVOY_DASHBOARD_PUBLIC=true makes it.
    world = await startWorld({ agents: 2, github: { requiredChecks: ['test'] }, agentAllow: { branches: ['main', 'feature'] }, hubEnv: { BITENVOY_DASHBOARD_PUBLIC: 'true' } });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  it(
    "reads its config from the owner's .bitenvoy repository with an installation token",
    async () => {
      const health = await until('the config to load', async () => {
        const h = await healthz();
        return h.configRepos[0]?.sha ? h : undefined;
      });
      expect(health.mode).toBe('github');
      expect(health.configRepos).toEqual([expect.objectContaining({ source: CONFIG_REPO, sha: expect.stringMatching(/^[0-9a-f]{40}$/) })]);
      // The clone URL came from the API, and the token asked for was for the config repository alone.
      expect(github().requests.some((r) => r.method === 'GET' && r.path === `/repos/${CONFIG_REPO}`)).toBe(true);
      expect(github().requests.find((r) => r.path.endsWith('/access_tokens') && JSON.stringify(r.body ?? {}).includes('.bitenvoy'))?.body).toEqual({
        repositories: ['.bitenvoy'],
        permissions: { contents: 'read' },
      });
    },
    E2E_TIMEOUT,
  );

  it(
    'deploys a pushed commit once its required check passes, and reports statuses up to success',
    async () => {
      const { sha } = await github().push(SAMPLE_REPOSITORY, 'main', sampleAppFiles('2'), 'version 2');
      // Nothing while the check has not reported.
      await new Promise((r) => setTimeout(r, 800));
      expect(github().deployments).toHaveLength(0);

      await github().reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success');
      const deployment = await until('a deployment', () => github().deployments.find((d) => d.sha === sha));
      expect(deployment.body).toMatchObject({ ref: sha, environment: SAMPLE_ENVIRONMENT, auto_merge: false, required_contexts: [], production_environment: false });
      const rollout = (deployment.body.payload as { bitenvoy: { rollout: string } }).bitenvoy.rollout;
      expect(rollout).toMatch(/^dep_[0-9a-f]{12}$/);

      const final = await until('a final status', () => finalStatus(deployment), 60_000);
      expect(final).toBe('success');
      const states = deployment.statuses.map((s) => s.state);
      expect(states[0]).toBe('queued');
      expect(states.at(-1)).toBe('success');
      expect(deployment.statuses.at(-1)).toMatchObject({ log_url: `${world.hub.url}/deployments/${rollout}`, environment_url: 'https://staging.shop.example' });
      for (const agent of world.agents) {
        const html = await readFile(join(agent.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT, 'current', 'public', 'index.html'), 'utf8');
        expect(html).toContain('Shop version 2');
      }
      const view = await world.waitForDeployment(rollout);
      expect(view.jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
      // The commit's title and author, read from GitHub's commit API with the installation token.
      expect(view.deployment.commit).toMatchObject({ title: 'version 2', author: 'BitEnvoy Testbed' });
      expect(github().requests.filter((r) => r.method === 'GET' && r.path === `/repos/${SAMPLE_REPOSITORY}/commits/${sha}`)).toHaveLength(1);
    },
    E2E_TIMEOUT,
  );

  it(
    'creates nothing new when webhooks are delivered again',
    async () => {
      const before = { deployments: github().deployments.length, requests: github().requests.length };
      const again = github().deliveries.filter((d) => d.event === 'deployment' || d.event === 'check_run' || d.event === 'push');
      expect(again.length).toBeGreaterThanOrEqual(3);
      for (const delivery of again) expect(await github().redeliver(delivery)).toBe(200);
      await new Promise((r) => setTimeout(r, 1500));
      expect(github().deployments).toHaveLength(before.deployments);
      const rollouts = (await (await fetch(`${world.hub.url}/api/v1/deployments`, { headers: { authorization: `Bearer ${world.hub.adminToken}` } })).json()) as { deployments: unknown[] };
      expect(rollouts.deployments).toHaveLength(before.deployments);
      // Re-evaluating checks may read from GitHub, but never writes.
      expect(github().requests.slice(before.requests).filter((r) => r.method !== 'GET')).toEqual([]);
    },
    E2E_TIMEOUT,
  );

  it(
    '/deploy staging on a pull request ships its head SHA at comment time to both agents, and replies with the page',
    async () => {
      const { sha: head } = await github().push(SAMPLE_REPOSITORY, 'feature', sampleAppFiles('pr'), 'a change under review');
      await github().reportCheck(SAMPLE_REPOSITORY, head, 'test', 'success', 'feature');
      const pr = github().openPullRequest(SAMPLE_REPOSITORY, 'feature');
      expect(await github().comment(SAMPLE_REPOSITORY, pr, 'octocat', '/deploy staging')).toBe(200);
      // Pushed after the comment: must not change what ships.
      await github().push(SAMPLE_REPOSITORY, 'feature', sampleAppFiles('later'), 'pushed after the comment');

      const deployment = await until('the deployment', () => github().deployments.find((d) => d.sha === head));
      expect(deployment.body).toMatchObject({ ref: head, environment: SAMPLE_ENVIRONMENT, payload: { bitenvoy: { trigger: 'command', actor: 'octocat', pullRequest: pr } } });
      expect(await until('a final status', () => finalStatus(deployment), 60_000)).toBe('success');
      const rollout = (deployment.body.payload as { bitenvoy: { rollout: string } }).bitenvoy.rollout;
      expect(github().reactions).toContainEqual(expect.objectContaining({ repository: SAMPLE_REPOSITORY, content: 'eyes' }));
      // The reply ends with the outbox's hidden marker, which keeps it from being posted twice (reply-effect.ts).
      const replied = `@octocat deploying \`${head.slice(0, 7)}\` to \`staging\`: ${world.hub.url}/deployments/${rollout}`;
      expect(github().replies.at(-1)).toEqual({ repository: SAMPLE_REPOSITORY, number: pr, body: expect.stringMatching(/\n\n<!-- bitenvoy:effect [0-9a-f-]{36} -->$/) });
      expect(github().replies.at(-1)!.body.replace(/\n\n<!-- bitenvoy:effect [0-9a-f-]{36} -->$/, '')).toBe(replied);
      for (const agent of world.agents) {
        const html = await readFile(join(agent.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT, 'current', 'public', 'index.html'), 'utf8');
        expect(html).toContain('Shop version pr');
      }
      expect(github().deployments.filter((d) => d.ref !== head && d.body.payload && JSON.stringify(d.body.payload).includes('"command"'))).toEqual([]);
    },
    E2E_TIMEOUT,
  );

  it(
    'does not deploy a commit whose required check failed',
    async () => {
      const { sha } = await github().push(SAMPLE_REPOSITORY, 'main', sampleAppFiles('3'), 'version 3');
      await github().reportCheck(SAMPLE_REPOSITORY, sha, 'lint', 'success');
      await github().reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'failure');
      await until('the hub to read the checks', () => github().requests.some((r) => r.path === `/repos/${SAMPLE_REPOSITORY}/commits/${sha}/check-runs`));
      await new Promise((r) => setTimeout(r, 1000));
      expect(github().deployments.filter((d) => d.sha === sha)).toEqual([]);
      expect(world.hub.output()).toMatch(new RegExp(`not deploying ${sha.slice(0, 7)}: .*test \\(failure\\)`));
    },
    E2E_TIMEOUT,
  );

  it(
    'gives every pushed config commit a "BitEnvoy config" check, and keeps a broken default branch out of force',
    async () => {
      const inForce = (await healthz()).configRepos[0]!.sha;
      const bad = await github().push(CONFIG_REPO, 'try-groups', { 'groups.yml': 'groups:\n  web:\n    selectr:\n      matchLabels: { role: web }\n' }, 'typo');
      const run = await until('a check run on the branch', () => github().appCheckRuns.find((c) => c.head_sha === bad.sha));
      expect(run).toMatchObject({ name: 'BitEnvoy config', status: 'completed', conclusion: 'failure' });
      const annotations = (run.output as { annotations: Array<{ path: string; start_line: number; message: string }> }).annotations;
      expect(annotations[0]).toMatchObject({ path: 'groups.yml', start_line: 3 });
      expect(annotations[0]!.message).toMatch(/selectr/);
      // A branch never takes effect, valid or not.
      expect((await healthz()).configRepos[0]!.sha).toBe(inForce);

      const brokenMain = await github().push(CONFIG_REPO, 'main', { 'groups.yml': 'groups: [\n' }, 'broken main');
      await until('a check run on main', () => github().appCheckRuns.find((c) => c.head_sha === brokenMain.sha));
      const health = await healthz();
      expect(health.configRepos[0]).toMatchObject({ sha: inForce, rejected: { sha: brokenMain.sha } });
      // The deployments list names it in its config line; the config page shows it whole.
      const page = await (await fetch(`${world.hub.url}/deployments`)).text();
      expect(page).toContain(`${brokenMain.sha.slice(0, 7)}</code> rejected`);
      const config = await (await fetch(`${world.hub.url}/config`)).text();
      expect(config).toContain(`Rejected commit <code>${brokenMain.sha}</code>`);
    },
    E2E_TIMEOUT,
  );

  it(
    'gives up on checks that never report with a visible error status',
    async () => {
      // Fix the config and give checks one second: a push to the default branch takes effect at once.
      const fixed = await github().push(
        CONFIG_REPO,
        'main',
        {
          'groups.yml': 'groups:\n  web:\n    selector:\n      matchLabels: { role: web }\n',
          [`repositories/${SAMPLE_REPOSITORY}.yml`]: `environments:\n  ${SAMPLE_ENVIRONMENT}:\n    branch: main\n    group: web\n    auto: true\n    requiredChecks: [test, e2e]\n    checksTimeout: 1s\n`,
        },
        'checks time out after a second',
      );
      await until('the fixed config in force', async () => ((await healthz()).configRepos[0]!.sha === fixed.sha ? true : undefined));
      const { sha } = await github().push(SAMPLE_REPOSITORY, 'main', sampleAppFiles('4'), 'version 4');
      await github().reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success');
      const deployment = await until('an error deployment', () => github().deployments.find((d) => d.sha === sha && finalStatus(d)), 30_000);
      expect(finalStatus(deployment)).toBe('error');
      expect(deployment.statuses.at(-1)!.description).toMatch(/e2e.*did not report within 1s/);
    },
    E2E_TIMEOUT,
  );

  it(
    'says why an account without a config repo cannot deploy, on /healthz and in the Deployment status',
    async () => {
      expect(await github().installApp('ghost', 777)).toBe(200);
      const ghost = await until('the ghost config repo status', async () => (await healthz()).configRepos.find((c) => c.source === 'ghost/.bitenvoy'));
      expect(ghost).toMatchObject({
        lastError:
          'the config repo ghost/.bitenvoy does not exist or the GitHub App cannot read it: create it (start from templates/config-repo) and install the App on it, or name another with BITENVOY_CONFIG_REPO_NAME',
      });
      // A person deploys one of that account's repositories through the API: the status says why it cannot run.
      github().addRepository('ghost/app', world.appRepo);
      const deployment = await github().createDeployment('ghost/app', 'main', 'staging');
      await until('a final status', () => finalStatus(deployment));
      expect(deployment.statuses.at(-1)).toMatchObject({ state: 'error', description: expect.stringMatching(/^no valid config is in force for ghost\/app: /) });
      expect(String(deployment.statuses.at(-1)!.description).length).toBeLessThanOrEqual(140);
    },
    E2E_TIMEOUT,
  );

  it(
    'logs a delivery for an installation GitHub does not know, and stays up',
    async () => {
      const payload = JSON.parse(github().deliveries.find((d) => d.event === 'deployment')!.body) as Record<string, unknown>;
      const { status } = await github().deliver('deployment', { ...payload, installation: { id: 31337 }, repository: { ...(payload.repository as object), full_name: 'nobody/app', name: 'app', owner: { login: 'nobody' } } });
      expect(status).toBe(200);
      await until('the log line', () => /nobody\/\.bitenvoy/.test(world.hub.output()));
      expect((await fetch(`${world.hub.url}/healthz`)).status).toBe(200);
    },
    E2E_TIMEOUT,
  );

  it(
    '`bitenvoy deploy` in GitHub mode deploys through a GitHub Deployment made with the installation',
    async () => {
      const before = github().deployments.length;
      const out = await runCli(['deploy', '--repository', SAMPLE_REPOSITORY, '--ref', 'main', '--environment', SAMPLE_ENVIRONMENT, '--hub', world.hub.url, '--token', world.hub.adminToken]);
      expect(out).toMatch(/success/);
      const deployment = github().deployments.at(-1)!;
      expect(github().deployments).toHaveLength(before + 1);
      expect(deployment.body).toMatchObject({ environment: SAMPLE_ENVIRONMENT, payload: { bitenvoy: { trigger: 'api' } } });
      expect(await until('a final status', () => finalStatus(deployment))).toBe('success');
      expect(github().problems()).toEqual([]);
    },
    E2E_TIMEOUT,
  );

  it(
    'refuses a forged delivery and makes only requests GitHub accepts',
    async () => {
      const before = github().deployments.length;
      const { status } = await github().deliver('push', JSON.parse(github().deliveries.find((d) => d.event === 'push')!.body) as Record<string, unknown>, { signatureSecret: 'not-the-secret' });
      expect(status).toBeGreaterThanOrEqual(400);
      expect(github().deployments).toHaveLength(before);
      expect(github().problems()).toEqual([]);
    },
    E2E_TIMEOUT,
  );
});
