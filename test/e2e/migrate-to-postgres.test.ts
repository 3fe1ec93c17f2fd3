/**
 * Moving a hub with history from its SQLite file to PostgreSQL, through real processes: a hub on SQLite with two real
 * agents deploys twice and rolls back (deployments, jobs, logs, audit); it is stopped; `bitenvoy store migrate` copies
 * its store into an empty PostgreSQL database; the same hub, now on PostgreSQL, shows that history, and its agents —
 * polling with the credentials they enrolled with before the move — deploy a new commit and roll it back to the
 * success recorded before the move.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushCommit } from '../../testbed/git-repos.js';
import { runCli } from '../../testbed/processes.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { startWorld, type DeploymentView, type World } from '../../testbed/world.js';
import { STORE_BACKENDS, createTestDatabase, databaseUrl, dropTestDatabase, withAdminClient } from '../helpers/store-backends.js';

const E2E_TIMEOUT = 240_000;
const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;

/** Version `version` of an app whose deploy and rollback steps each leave a line in `<app>/deploys.log`. */
function appFiles(version: string): Record<string, string> {
  const log = '"$BITENVOY_RELEASE_DIR/../../deploys.log"';
  return {
    VERSION: `${version}\n`,
    'bitenvoy.yml': `version: 1
steps:
  - name: build
    run: |
      echo "building version $(cat VERSION)"
      echo "deploy $(cat VERSION)" >> ${log}
rollback:
  - name: restart
    run: echo "restart $(cat VERSION)" >> ${log}
`,
  };
}

const appDir = (world: World, agent: number) => join(world.agents[agent]!.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT);
const deploysLog = (world: World, agent: number) => readFile(join(appDir(world, agent), 'deploys.log'), 'utf8').catch(() => '');
const currentRelease = (world: World, agent: number) => readlink(join(appDir(world, agent), 'current'));

async function admin<T>(world: World, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${world.hub.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${world.hub.adminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

interface RollbackAnswer {
  deployment: { id: string };
  from: { deploymentId: string; sha: string };
  to: { deploymentId: string; sha: string };
}

async function succeeded(world: World, id: string): Promise<DeploymentView> {
  const view = await world.waitForDeployment(id, 90_000);
  expect(view.deployment.state, `${id}: ${view.deployment.description}`).toBe('success');
  return view;
}

describe.runIf(!postgres.unavailable)('a SQLite hub with history moved to PostgreSQL', () => {
  const database = `bitenvoy_test_${randomBytes(6).toString('hex')}`;
  let world: World;

  beforeAll(async () => {
    await createTestDatabase(database);
    world = await startWorld({ agents: 2, appFiles: appFiles('1') });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
    await dropTestDatabase(database);
  });

  it(
    'keeps deployments, logs and audit, and rolls back across the move to the success recorded before it',
    async () => {
      // History on SQLite: version 1, version 2, and a rollback to version 1.
      const v1 = await succeeded(world, (await world.deploy()).deployment.id);
      const v1Releases = await Promise.all([0, 1].map((i) => currentRelease(world, i)));
      await pushCommit(world.appRepo, appFiles('2'), 'version 2');
      const v2 = await succeeded(world, (await world.deploy()).deployment.id);
      const back = await admin<RollbackAnswer>(world, 'POST', '/environments/rollback', { repository: SAMPLE_REPOSITORY, environment: SAMPLE_ENVIRONMENT });
      expect(back.to).toEqual({ deploymentId: v1.deployment.id, sha: v1.deployment.sha });
      const rolledBack = await succeeded(world, back.deployment.id);
      const auditBefore = await admin<{ entries: Array<{ action: string; deploymentId?: string }> }>(world, 'GET', '/audit');
      expect(auditBefore.entries.map((e) => e.action)).toContain('rollback');

      // The move: the hub stopped, its store copied, the same hub (port, agents, config) started on PostgreSQL.
      let migrateOutput = '';
      await world.restartHub('SIGTERM', {
        env: { BITENVOY_DATABASE_URL: databaseUrl(database) },
        whileStopped: async () => {
          migrateOutput = await runCli(['store', 'migrate', '--from', `sqlite:${world.dataDir}`, '--to', databaseUrl(database)]);
        },
      });
      expect(migrateOutput).toMatch(/^ {2}deployments +3 rows {2}sha256 [0-9a-f]{64} {2}\(same on both sides\)$/m);
      expect(migrateOutput).toMatch(/^ {2}jobs +6 rows {2}sha256 [0-9a-f]{64}/m);

      // The history, read from PostgreSQL: the deployments, a server's log from before the move, the audit.
      const listed = await admin<{ deployments: Array<{ id: string; state: string }> }>(world, 'GET', '/deployments?limit=10');
      expect(listed.deployments.map((d) => [d.id, d.state])).toEqual([rolledBack, v2, v1].map((v) => [v.deployment.id, 'success']));
      const oldServer = v2.jobs[0]!;
      const oldLog = await admin<{ lines: string[] }>(world, 'GET', `/deployments/${v2.deployment.id}/servers/${oldServer.id}/log`);
      expect(oldLog.lines.join('\n')).toContain('building version 2');
      const auditAfter = await admin<{ entries: Array<{ action: string; deploymentId?: string }> }>(world, 'GET', '/audit');
      expect(auditAfter.entries).toEqual(auditBefore.entries);

      // A new version deployed by the hub on PostgreSQL, to the agents enrolled before the move.
      await pushCommit(world.appRepo, appFiles('3'), 'version 3');
      const v3 = await succeeded(world, (await world.deploy()).deployment.id);
      expect(v3.jobs.map((j) => [j.agentName, j.state])).toEqual([
        ['web-1', 'succeeded'],
        ['web-2', 'succeeded'],
      ]);
      // Rolled back: the target is the newest success of another commit, the rollback made on SQLite.
      const again = await admin<RollbackAnswer>(world, 'POST', '/environments/rollback', { repository: SAMPLE_REPOSITORY, environment: SAMPLE_ENVIRONMENT });
      expect(again.from).toEqual({ deploymentId: v3.deployment.id, sha: v3.deployment.sha });
      expect(again.to).toEqual({ deploymentId: rolledBack.deployment.id, sha: v1.deployment.sha });
      const rollback = await succeeded(world, again.deployment.id);
      expect(rollback.deployment).toMatchObject({ sha: v1.deployment.sha, rollbackOf: v3.deployment.id });
      // Every server is back on the version-1 release it kept since before the move, and each step ran once.
      expect(await Promise.all([0, 1].map((i) => currentRelease(world, i)))).toEqual(v1Releases);
      for (const i of [0, 1]) expect(await deploysLog(world, i)).toBe('deploy 1\ndeploy 2\nrestart 1\ndeploy 3\nrestart 1\n');
      // The hub wrote the new deployments into PostgreSQL, with the three it was given.
      const rows = await withAdminClient((client) => client.query<{ id: string }>('SELECT key AS id FROM deployments ORDER BY created_at'), database);
      expect(rows.rows.map((r) => r.id)).toEqual([v1, v2, rolledBack, v3, rollback].map((v) => `deployment:${v.deployment.id}`));
    },
    E2E_TIMEOUT,
  );
});
