/**
 * End to end with real processes: a hub on a SQLite file, two enrolled agents, application and config repositories
 * served over HTTP by `git http-backend`. Nothing here is mocked.
 */
import { cp, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../lib/package-root.js';
import { headOf, pushCommit } from '../../testbed/git-repos.js';
import { runCli } from '../../testbed/processes.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY, sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 120_000;

function currentDir(world: World, agent: number): string {
  return join(world.agents[agent]!.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT, 'current');
}

describe('a deployment through real processes', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ agents: 2 });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  it(
    'deploys the exact commit to both agents and switches `current` to it',
    async () => {
      const sha = await headOf(world.appRepo);
      const { deployment, url } = await world.deploy();
      expect(deployment.sha).toBe(sha);
      expect(url).toBe(`${world.hub.url}/deployments/${deployment.id}`);

      const view = await world.waitForDeployment(deployment.id);
      expect(view.deployment.state).toBe('success');
      expect(view.jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
      for (const i of [0, 1]) {
        const target = await readlink(currentDir(world, i));
        expect(target).toContain(join('releases'));
        expect(await readFile(join(currentDir(world, i), 'public', 'index.html'), 'utf8')).toContain('Shop version 1');
      }

      const page = await (await fetch(url)).text();
      expect(page).toContain('web-1');
      expect(page).toContain('web-2');
      expect(page).toContain(sha.slice(0, 7));
      // A server that went well shows its log a click away, on its own page.
      const server = /<a href="(\/deployments\/[^"]+\/servers\/[^"]+)">log<\/a>/.exec(page)?.[1];
      expect(server, page).toBeDefined();
      expect(await (await fetch(`${world.hub.url}${server}`)).text()).toContain('building shop version 1');
    },
    E2E_TIMEOUT,
  );

  it(
    'fails the deployment when a step fails, with the step named and its log tail shown',
    async () => {
      const files = sampleAppFiles('2');
      files['bitenvoy.yml'] = `version: 1
steps:
  - name: install
    run: echo "installing"
  - name: migrate
    run: |
      echo "connecting to the database"
      echo "boom: database unreachable" >&2
      exit 3
`;
      await pushCommit(world.appRepo, files, 'a release whose migration fails');
      const { deployment } = await world.deploy();
      const view = await world.waitForDeployment(deployment.id);
      expect(view.deployment.state).toBe('failure');
      expect(view.deployment.description).toMatch(/migrate/);
      for (const job of view.jobs) {
        expect(job.state).toBe('failed');
        expect(job.logTail?.join('\n')).toContain('boom: database unreachable');
      }
      // The failed release never became current: the previous good one still is.
      expect(await readFile(join(currentDir(world, 0), 'public', 'index.html'), 'utf8')).toContain('Shop version 1');
    },
    E2E_TIMEOUT,
  );

  it(
    'fails clearly when the commit has no instruction file',
    async () => {
      await pushCommit(world.appRepo, { 'bitenvoy.yml': null }, 'remove the instruction file');
      const { deployment } = await world.deploy();
      const view = await world.waitForDeployment(deployment.id);
      expect(view.deployment.state).toBe('failure');
      for (const job of view.jobs) expect(job.message).toMatch(/no bitenvoy\.yml/);
    },
    E2E_TIMEOUT,
  );

  it(
    'keeps the config in force when the config repo gets an invalid commit',
    async () => {
      const before = (await (await fetch(`${world.hub.url}/healthz`)).json()) as { configRepos: Array<{ sha?: string }> };
      const bad = await pushCommit(world.configRepo, { 'groups.yml': 'groups:\n  web:\n    selector:\n      matchExpressions:\n        - key: role\n          operator: Near\n' }, 'broken groups');
      let health: { configRepos: Array<{ sha?: string; rejected?: { sha: string } }> } = { configRepos: [] };
      for (let i = 0; i < 100 && health.configRepos[0]?.rejected?.sha !== bad; i++) {
        await new Promise((r) => setTimeout(r, 200));
        health = (await (await fetch(`${world.hub.url}/healthz`)).json()) as typeof health;
      }
      expect(health.configRepos[0]?.rejected?.sha).toBe(bad);
      expect(health.configRepos[0]?.sha).toBe(before.configRepos[0]?.sha);

      await pushCommit(world.appRepo, sampleAppFiles('3'), 'version 3');
      const { deployment } = await world.deploy();
      expect((await world.waitForDeployment(deployment.id)).deployment.state).toBe('success');
    },
    E2E_TIMEOUT,
  );
});

describe('the command line against a running hub', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ agents: 1 });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  it(
    '`bitenvoy deploy` prints the status page, follows the deployment and exits 0 on success',
    async () => {
      const out = await runCli(['deploy', '--repository', SAMPLE_REPOSITORY, '--ref', 'main', '--environment', SAMPLE_ENVIRONMENT, '--hub', world.hub.url, '--token', world.hub.adminToken]);
      expect(out).toMatch(new RegExp(`${world.hub.url}/deployments/dep_[0-9a-f]+`));
      expect(out).toContain('success: 1/1 servers succeeded');
    },
    E2E_TIMEOUT,
  );

  it(
    '`bitenvoy deploy` exits non-zero with the hub\'s reason when the request is refused',
    async () => {
      const failed = runCli(['deploy', '--repository', SAMPLE_REPOSITORY, '--ref', 'no-such-branch', '--environment', SAMPLE_ENVIRONMENT], {
        BITENVOY_HUB_URL: world.hub.url,
        BITENVOY_ADMIN_TOKEN: world.hub.adminToken,
      });
      await expect(failed).rejects.toThrow(/exited 1:[\s\S]*BE_REF_NOT_FOUND: ref `no-such-branch` does not exist/);
    },
    E2E_TIMEOUT,
  );

  it(
    '`bitenvoy agents` lists the enrolled agent as online with its labels',
    async () => {
      const out = await runCli(['agents', '--hub', world.hub.url, '--token', world.hub.adminToken]);
      expect(out).toMatch(/^web-1\tonline\trole=web\t/m);
    },
    E2E_TIMEOUT,
  );

  it(
    '`bitenvoy audit` exports every deployment made through the API, as text and as JSON lines',
    async () => {
      const { deployment } = await world.deploy();
      await world.waitForDeployment(deployment.id);
      const text = await runCli(['audit', '--hub', world.hub.url, '--token', world.hub.adminToken, '--repository', SAMPLE_REPOSITORY]);
      expect(text).toMatch(new RegExp(`^\\S+Z\\tapi\\tdeploy\\t${SAMPLE_REPOSITORY} ${SAMPLE_ENVIRONMENT} [0-9a-f]{7}\\tstarted$`, 'm'));
      const lines = (await runCli(['audit', '--hub', world.hub.url, '--token', world.hub.adminToken, '--format', 'jsonl', '--limit', '1'])).trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ actor: 'api', action: 'deploy', repository: SAMPLE_REPOSITORY, sha: deployment.sha, deploymentId: deployment.id });
      await expect(runCli(['audit', '--hub', world.hub.url, '--token', world.hub.adminToken, '--format', 'xml'])).rejects.toThrow(/exited 2:[\s\S]*--format xml: expected text, json or jsonl/);
    },
    E2E_TIMEOUT,
  );

  it(
    '`bitenvoy plan` shows the batches of a strategy for a config checkout and a set of agents',
    async () => {
      const config = join(world.root, 'plan-config');
      await cp(join(packageRoot(), 'templates', 'config-repo'), config, { recursive: true });
      const repoFile = join(config, 'repositories', 'example', 'app.yml');
      await writeFile(repoFile, (await readFile(repoFile, 'utf8')).replace('strategy: careful', 'strategy: canary'));
      const agentsFile = join(world.root, 'agents.json');
      const web = (n: number, online = true) => ({ name: `web-${n}`, labels: { role: 'web' }, online });
      await writeFile(agentsFile, JSON.stringify([...[1, 2, 3, 4, 5, 6, 7].map((n) => web(n)), web(8, false), { name: 'db-1', labels: { role: 'db' } }]));
      const out = await runCli(['plan', '--config', config, '--repository', 'example/app', '--environment', 'production', '--agents', agentsFile]);
      expect(out).toBe(
        [
          'example/app → production: group web (role=web), strategy canary (canary)',
          'servers: 7 of 9 agents; lost, left out: web-8',
          'batch 1: web-1   then wait to be continued (bitenvoy continue, its page, or /continue in GitHub mode)',
          'batch 2: web-2, web-3, web-4, web-5, web-6',
          'batch 3: web-7',
          'failure policy: stop at the first failed server; the whole rollout within 1h; on failure, roll the servers that moved back to the last good commit',
          '',
        ].join('\n'),
      );
      await expect(runCli(['plan', '--config', config, '--repository', 'example/app', '--environment', 'prod', '--agents', agentsFile])).rejects.toThrow(
        /exited 2:[\s\S]*example\/app has no environment `prod`; its environments: staging, production/,
      );
    },
    E2E_TIMEOUT,
  );

  it(
    '`bitenvoy validate` exits 0 for the starter and 1, with file and line, for a broken file',
    async () => {
      expect(await runCli(['validate', join(packageRoot(), 'templates', 'config-repo')])).toMatch(/valid/);
      const bad = join(world.root, 'bad-bitenvoy.yml');
      await writeFile(bad, 'version: 1\nsteps:\n  - name: x\n    rn: echo\n');
      await expect(runCli(['validate', bad])).rejects.toThrow(/exited 1:[\s\S]*bad-bitenvoy\.yml:4:5: unknown key `rn` in `steps\[0\]`; did you mean `run`\?/);
    },
    E2E_TIMEOUT,
  );
});

describe('shutdown', () => {
  it(
    'the hub exits 0 on SIGTERM within seconds, even with agents holding long polls',
    async () => {
      const world = await startWorld({ agents: 1 });
      try {
        await new Promise((r) => setTimeout(r, 500));
        const started = Date.now();
        await world.hub.stop(10_000);
        expect(await world.hub.exited).toBe(0);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(world.hub.output()).toContain('shutting down');
      } finally {
        await world.close();
      }
    },
    E2E_TIMEOUT,
  );
});

describe('the hub killed mid-deployment', () => {
  let world: World;
  beforeAll(async () => {
    const files = sampleAppFiles('1');
    // Each run of the step leaves a line in a file outside the release, so a second run would show.
    files['bitenvoy.yml'] = `version: 1
steps:
  - name: slow
    run: |
      echo "$BITENVOY_JOB_ID" >> "$MARKER_DIR/runs"
      sleep 2
      echo "slow step done"
`;
    world = await startWorld({ agents: 2, appFiles: files, strategy: 'one-at-a-time' });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  it(
    'finishes after a SIGKILL and restart, running each job exactly once',
    async () => {
      const { deployment } = await world.deploy();
      // Kill the hub while the first server's step is running, and again during the second batch.
      for (let kill = 0; kill < 2; kill++) {
        await world.waitForRunningJob(deployment.id, kill);
        await world.restartHub('SIGKILL');
      }
      const view = await world.waitForDeployment(deployment.id);
      expect(view.deployment.state).toBe('success');
      expect(view.jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
      const runs = (await readFile(join(world.markers, 'runs'), 'utf8')).trim().split('\n').sort();
      expect(runs).toEqual(view.jobs.map((j) => j.id).sort());
    },
    E2E_TIMEOUT,
  );
});

describe('cancelling a rollout', () => {
  let world: World;
  beforeAll(async () => {
    const files = sampleAppFiles('cancel');
    // A step that records the signal its process group gets, and whose child would otherwise outlive it.
    files['bitenvoy.yml'] = `version: 1
steps:
  - name: long
    run: |
      trap 'echo TERM >> "$MARKER_DIR/signals"; exit 143' TERM
      (sleep 60; echo survived >> "$MARKER_DIR/signals") &
      echo started
      wait
`;
    world = await startWorld({ agents: 1, appFiles: files, hubEnv: { BITENVOY_LEASE_SECONDS: '3' } });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  it(
    '`bitenvoy cancel` stops the running step\'s process group and the rollout ends cancelled, by whom',
    async () => {
      const { deployment } = await world.deploy();
      await world.waitForRunningJob(deployment.id, 0);
      const out = await runCli(['cancel', deployment.id, '--by', 'tester', '--hub', world.hub.url, '--token', world.hub.adminToken]);
      expect(out).toContain(`${deployment.id}: in_progress — cancelling (asked by tester)`);
      const view = await world.waitForDeployment(deployment.id, 30_000);
      expect(view.deployment).toMatchObject({ state: 'cancelled', description: `asked by tester; ${deployment.sha.slice(0, 7)} is live on 0/1 servers` });
      expect(view.jobs.map((j) => j.state)).toEqual(['cancelled']);
      expect((await readFile(join(world.markers, 'signals'), 'utf8')).trim()).toBe('TERM');
      await expect(runCli(['cancel', deployment.id, '--hub', world.hub.url, '--token', world.hub.adminToken])).rejects.toThrow(/already ended \(cancelled/);
      await expect(runCli(['cancel', '--hub', world.hub.url])).rejects.toThrow(/exited 2:[\s\S]*give one deployment id/);
    },
    E2E_TIMEOUT,
  );
});
