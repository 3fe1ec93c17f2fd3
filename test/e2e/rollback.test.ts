/**
 * `onFailure: rollback` through real processes: a hub, three agents and real git. A release that fails on its
 * second server is rolled back — as a new deployment — on exactly the two servers that had started it, by switching
 * `current` back to the kept release and running its `rollback` steps; the third server never moves. In GitHub mode
 * the rollback is a GitHub Deployment of its own, with statuses, every request checked against GitHub's contract.
 */
import { readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushCommit } from '../../testbed/git-repos.js';
import type { StandInDeployment } from '../../testbed/github-stand-in.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { startWorld, type DeploymentView, type World } from '../../testbed/world.js';
import { until } from '../helpers/until.js';

const E2E_TIMEOUT = 180_000;

const STRATEGIES = `strategies:
  safe:
    type: rolling
    batchSize: 1
    onFailure: rollback
`;

/**
 * Version `version` of an app whose build fails on a server whose agent directory holds `fail-<version>`; every
 * deploy and restart is appended to `<app>/deploys.log` (beside `current`), so the test can tell what ran where.
 */
function appFiles(version: string): Record<string, string> {
  const log = '"$BITENVOY_RELEASE_DIR/../../deploys.log"';
  return {
    VERSION: `${version}\n`,
    'bitenvoy.yml': `version: 1
steps:
  - name: build
    run: |
      if [ -f "$BITENVOY_RELEASE_DIR/../../../../../../fail-$(cat VERSION)" ]; then echo "build of $(cat VERSION) broke" >&2; exit 4; fi
      echo "deploy $(cat VERSION)" >> ${log}
rollback:
  - name: restart
    run: echo "restart $(cat VERSION)" >> ${log}
`,
  };
}

function appDir(world: World, agent: number): string {
  return join(world.agents[agent]!.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT);
}
const deploysLog = (world: World, agent: number) => readFile(join(appDir(world, agent), 'deploys.log'), 'utf8').catch(() => '');
const currentRelease = (world: World, agent: number) => readlink(join(appDir(world, agent), 'current'));


/** The rollback a failed deployment started, once the failure is recorded. */
function rollbackId(failed: DeploymentView['deployment']): string {
  const plan = failed.autoRollback;
  if (!plan || !('deploymentId' in plan)) throw new Error(`no rollback planned: ${JSON.stringify(plan)} — ${failed.description}`);
  return plan.deploymentId;
}

describe('automatic rollback, local mode', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ agents: 3, strategy: 'safe', appFiles: appFiles('1'), configFiles: { 'strategies.yml': STRATEGIES } });
    await writeFile(join(world.agents[1]!.dir, 'fail-2'), '');
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  it(
    'rolls the servers that moved back to the last good release, and leaves the others alone',
    async () => {
      const good = await world.waitForDeployment((await world.deploy()).deployment.id);
      expect(good.deployment.state).toBe('success');
      const v1Releases = await Promise.all([0, 1, 2].map((i) => currentRelease(world, i)));

      await pushCommit(world.appRepo, appFiles('2'), 'version 2, whose build breaks on web-2');
      const bad = await world.waitForDeployment((await world.deploy()).deployment.id);
      expect(bad.deployment.state).toBe('failure');
      expect(bad.jobs.map((j) => [j.agentName, j.state])).toEqual([
        ['web-1', 'succeeded'],
        ['web-2', 'failed'],
      ]);
      const id = rollbackId(bad.deployment);
      expect(bad.deployment.description).toBe(`web-2: step build exited with code 4 — rolling back 2 servers to ${good.deployment.sha.slice(0, 7)} (${id})`);

      const rollback = await world.waitForDeployment(id);
      expect(rollback.deployment).toMatchObject({ state: 'success', sha: good.deployment.sha, rollbackOf: bad.deployment.id, createdBy: 'bitenvoy:auto-rollback' });
      expect(rollback.jobs.map((j) => j.agentName)).toEqual(['web-1', 'web-2']);
      // web-1 had switched to version 2 and comes back to its kept version-1 release; web-2 never switched.
      expect(await deploysLog(world, 0)).toBe('deploy 1\ndeploy 2\nrestart 1\n');
      expect(await deploysLog(world, 1)).toBe('deploy 1\nrestart 1\n');
      expect(await deploysLog(world, 2)).toBe('deploy 1\n');
      expect(await Promise.all([0, 1, 2].map((i) => currentRelease(world, i)))).toEqual(v1Releases);

      const page = await (await fetch(`${world.hub.url}/deployments/${bad.deployment.id}`)).text();
      expect(page).toContain(`rolling back 2 servers to ${good.deployment.sha.slice(0, 7)}`);
      expect(page).toContain(`rolled back by <a href="/deployments/${id}">${id}</a>: <code>${good.deployment.sha.slice(0, 7)}</code>`);
      const rollbackPage = await (await fetch(`${world.hub.url}/deployments/${id}`)).text();
      expect(rollbackPage).toContain(`brings back <code>${good.deployment.sha.slice(0, 7)}</code> after <a href="/deployments/${bad.deployment.id}">`);
    },
    E2E_TIMEOUT,
  );
});

describe('automatic rollback, GitHub mode', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({
      agents: 2,
      strategy: 'safe',
      appFiles: appFiles('1'),
      configFiles: { 'strategies.yml': STRATEGIES },
      github: { requiredChecks: ['test'] },
    });
    await writeFile(join(world.agents[1]!.dir, 'fail-2'), '');
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  const finalStatus = (d: StandInDeployment) => {
    const last = d.statuses.at(-1);
    return last && ['success', 'failure', 'error'].includes(String(last.state)) ? last : undefined;
  };

  it(
    'makes the rollback a GitHub Deployment of its own, with its statuses, in requests GitHub accepts',
    async () => {
      const github = world.github!;
      await until('the config loaded', async () => {
        const health = (await (await fetch(`${world.hub.url}/healthz`)).json()) as { configRepos: Array<{ sha?: string }> };
        return health.configRepos[0]?.sha;
      });
      const v1 = await github.createDeployment(SAMPLE_REPOSITORY, 'main', SAMPLE_ENVIRONMENT);
      expect(await until('v1 final', () => finalStatus(v1))).toMatchObject({ state: 'success' });

      const pushed = await github.push(SAMPLE_REPOSITORY, 'main', appFiles('2'), 'version 2, whose build breaks on web-2');
      const v2 = await github.createDeployment(SAMPLE_REPOSITORY, pushed.sha, SAMPLE_ENVIRONMENT);
      expect(await until('v2 final', () => finalStatus(v2))).toMatchObject({ state: 'failure', description: expect.stringMatching(/rolling back 2 servers to [0-9a-f]{7} \(dep_[0-9a-f]{12}\)$/) });

      const rollback = await until('the rollback deployment', () => github.deployments.find((d) => d.id > v2.id && d.sha === v1.sha));
      expect(rollback.body).toMatchObject({ environment: SAMPLE_ENVIRONMENT, payload: { bitenvoy: { trigger: 'rollback', rollout: expect.stringMatching(/^dep_/) } } });
      expect(String(rollback.body.description)).toMatch(/^BitEnvoy: automatic rollback of [0-9a-f]{7} \(dep_[0-9a-f]{12}\) to [0-9a-f]{7} on 2 servers$/);
      expect(await until('rollback final', () => finalStatus(rollback))).toMatchObject({ state: 'success' });
      expect(rollback.statuses.map((s) => s.state)).toEqual(expect.arrayContaining(['queued', 'success']));
      // Both servers had started version 2 (web-2's build failed in its step); both are back on their kept release.
      expect(await deploysLog(world, 0)).toBe('deploy 1\ndeploy 2\nrestart 1\n');
      expect(await deploysLog(world, 1)).toBe('deploy 1\nrestart 1\n');
      // The webhook of the hub's own rollback deployment started nothing more.
      expect(github.deployments.length).toBe(3);
      expect(github.problems()).toEqual([]);
    },
    E2E_TIMEOUT,
  );
});
