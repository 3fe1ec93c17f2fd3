/**
 * A real agent process (the built CLI) given its directory as a relative path, by `--dir` or BITENVOY_AGENT_DIR, from
 * a working directory where that path is valid: every directory is resolved once, so BITENVOY_RELEASE_DIR and
 * BITENVOY_CURRENT_DIR are absolute and a step that leaves its working directory can still use them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEnrollToken } from '../../app/enroll/create-enroll-token.js';
import { openStore } from '../../app/store/open-store.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { runCli, startCli, type ManagedProcess } from '../../testbed/processes.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

const TIMEOUT = 90_000;
let t: TestHub;
let agent: ManagedProcess | undefined;

beforeAll(async () => {
  t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '1' });
}, TIMEOUT);
afterAll(async () => {
  await agent?.stop(3000);
  await t?.close();
});

/** Steps that leave the release for /tmp and write through the two directories the agent hands them. */
const instructions = (version: string) => `version: 1
steps:
  - name: build
    run: |
      case "$BITENVOY_RELEASE_DIR" in /*) ;; *) echo "BITENVOY_RELEASE_DIR is relative: $BITENVOY_RELEASE_DIR"; exit 1;; esac
      cd /tmp && echo built-${version} > "$BITENVOY_RELEASE_DIR/built"
  - name: restart
    afterSwitch: true
    run: |
      case "$BITENVOY_CURRENT_DIR" in /*) ;; *) echo "BITENVOY_CURRENT_DIR is relative: $BITENVOY_CURRENT_DIR"; exit 1;; esac
      cd /tmp && echo ok-${version} > "$BITENVOY_CURRENT_DIR/marker"
`;

async function deploy(version: string): Promise<void> {
  await pushCommit(t.appRepo, { 'bitenvoy.yml': instructions(version) }, `version ${version}`);
  const res = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  for (let i = 0; i < 400; i++) {
    const summary = (await t.call('GET', `/api/v1/deployments/${res.json.deployment.id}`, { token: ADMIN_TOKEN })).json;
    if (['success', 'failure', 'error', 'cancelled'].includes(summary.deployment.state)) {
      const view = await t.viewDeployment(res.json.deployment.id);
      expect(view.jobs.map((j: { state: string; message?: string }) => `${j.state} ${j.message ?? ''}`.trim()), agent?.output().slice(-3000)).toEqual(['succeeded']);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the deployment never finished');
}

it(
  'deploys with a relative --dir and a relative BITENVOY_AGENT_DIR: the steps get absolute directories',
  async () => {
    const store = await openStore({ dataDir: t.dataDir });
    const { token } = await createEnrollToken(store, { createdBy: 'test' });
    await store.close();
    await runCli(['agent', 'enroll', '--hub', t.url, '--token', token, '--dir', 'agents/rel', '--name', 'rel', '--labels', 'role=web'], {}, t.root);
    const current = join(t.root, 'agents', 'rel', 'apps', 'demo', 'shop', 'staging', 'current');

    agent = startCli('rel', ['agent', 'run', '--dir', 'agents/rel'], { cwd: t.root });
    await deploy('1');
    expect(await readFile(join(current, 'marker'), 'utf8')).toBe('ok-1\n');
    expect(await readFile(join(current, 'built'), 'utf8')).toBe('built-1\n');
    await agent.stop(3000);

    agent = startCli('rel', ['agent', 'run'], { cwd: t.root, env: { BITENVOY_AGENT_DIR: 'agents/rel' } });
    await deploy('2');
    expect(await readFile(join(current, 'marker'), 'utf8')).toBe('ok-2\n');
  },
  TIMEOUT,
);
