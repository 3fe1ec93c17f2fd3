/**
 * The agent's run loop against a real hub in this process and real git over HTTP: allowlist refusals before any
 * fetch, recovery from a crash mid-job, secrets kept out of logs and command lines, and never running a job twice.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enrollAgent } from '../../agent/enroll-agent.js';
import { Journal } from '../../agent/journal.js';
import { INTERRUPTED, runAgent } from '../../agent/run-agent.js';
import { createEnrollToken } from '../../app/enroll/create-enroll-token.js';
import { keys, type JobRecord } from '../../app/model.js';
import { openStore } from '../../app/store/open-store.js';
import { silentLogger } from '../../lib/logger.js';
import type { JobSpec } from '../../lib/protocol.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { sampleAppFiles } from '../../testbed/sample-app.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

let t: TestHub;
const running: Array<{ controller: AbortController; done: Promise<void> }> = [];

beforeAll(async () => {
  t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '1' });
});
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.controller.abort();
    await r.done;
  }
});
afterAll(async () => t?.close());

let counter = 0;
async function newAgent(files: Record<string, string> = {}): Promise<string> {
  const store = await openStore({ dataDir: t.dataDir });
  const { token } = await createEnrollToken(store, { createdBy: 'test' });
  await store.close();
  const dir = join(t.root, 'agents', `a${++counter}`);
  await enrollAgent({ hub: t.url, token, name: `agent-${counter}`, labels: { role: `solo-${counter}` }, dir, log: silentLogger() });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o600 });
  return dir;
}

function start(dir: string): void {
  const controller = new AbortController();
  running.push({ controller, done: runAgent({ dir, log: silentLogger(), signal: controller.signal, backoff: { baseMs: 50, capMs: 200 } }) });
}

/** Points the config's group at one agent's solo label, deploys, and returns the deployment id. */
async function deployTo(label: string): Promise<string> {
  await pushCommit(
    t.configRepo,
    { 'groups.yml': `groups:\n  web:\n    selector:\n      matchLabels: { role: ${label} }\n` },
    `group web is ${label}`,
  );
  const refreshed = await t.call('POST', '/api/v1/config/refresh', { token: ADMIN_TOKEN });
  expect(refreshed.json.configRepos[0].rejected).toBeUndefined();
  const res = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
  expect(res.json.deployment.batches).toHaveLength(1);
  return res.json.deployment.id;
}

async function waitFinal(id: string) {
  for (let i = 0; i < 200; i++) {
    const summary = (await t.call('GET', `/api/v1/deployments/${id}`, { token: ADMIN_TOKEN })).json;
    if (['success', 'failure', 'error', 'cancelled'].includes(summary.deployment.state)) return t.viewDeployment(id);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`deployment ${id} never finished`);
}

describe('the agent run loop', () => {
  it('refuses a job outside its allowlist before fetching anything, and says why', async () => {
    const dir = await newAgent({ 'agent.yml': 'allow:\n  repositories: [other/*]\n' });
    start(dir);
    const id = await deployTo(`solo-${counter}`);
    const view = await waitFinal(id);
    expect(view.deployment.state).toBe('failure');
    expect(view.jobs[0].state).toBe('refused');
    expect(view.jobs[0].message).toMatch(/allowlist does not accept repository demo\/shop \(allow\.repositories: other\/\*\)/);
    expect(existsSync(join(dir, 'git'))).toBe(false);
  });

  it('keeps secrets out of logs and command lines', async () => {
    const files = sampleAppFiles('1');
    files['bitenvoy.yml'] = `version: 1
steps:
  - name: use-secret
    run: |
      echo "token is \${{ secrets.API_TOKEN }}"
      echo "env has $SERVICE_URL"
      tr '\\0' ' ' < /proc/$$/cmdline; echo
`;
    await pushCommit(t.appRepo, files, 'a step that uses a secret');
    const dir = await newAgent({ 'secrets.yml': 'API_TOKEN: tok-123456789\nSERVICE_URL: https://user:pw-987@svc\n' });
    start(dir);
    const id = await deployTo(`solo-${counter}`);
    const view = await waitFinal(id);
    expect(view.deployment.state).toBe('success');
    const log = view.jobs[0].logTail.join('\n');
    expect(log).toContain('token is ***');
    expect(log).toContain('${BITENVOY_SECRET_API_TOKEN}');
    expect(log).not.toContain('tok-123456789');
    const store = await openStore({ dataDir: t.dataDir });
    const everything = JSON.stringify(await store.list(''));
    await store.close();
    expect(everything).not.toContain('tok-123456789');
  });

  it('delivers megabytes of step output in requests the hub accepts', async () => {
    const files = sampleAppFiles('1');
    files['bitenvoy.yml'] = `version: 1
steps:
  - name: chatty
    run: head -c 3000000 /dev/zero | tr '\\0' 'x' | fold -w 100; echo; echo END-OF-OUTPUT
`;
    await pushCommit(t.appRepo, files, 'a step that prints 3 MB');
    const dir = await newAgent();
    start(dir);
    const id = await deployTo(`solo-${counter}`);
    const view = await waitFinal(id);
    expect(view.deployment.state).toBe('success');
    expect(view.jobs[0].logTail).toContain('END-OF-OUTPUT');
    expect(view.jobs[0].logsAckedSeq).toBeGreaterThan(150);
  });

  it('reports a job that was running when the agent died as interrupted and never re-runs it', async () => {
    const files = sampleAppFiles('1');
    files['bitenvoy.yml'] = 'version: 1\nsteps:\n  - name: mark\n    run: touch "$BITENVOY_RELEASE_DIR/../../ran"\n';
    await pushCommit(t.appRepo, files, 'a step that leaves a mark');
    const dir = await newAgent();
    const id = await deployTo(`solo-${counter}`);
    // Play the agent that claimed the job, journaled it as running, and died.
    const enrollment = JSON.parse(await readFile(join(dir, 'agent.json'), 'utf8'));
    const next = await t.call('GET', '/api/agent/v1/jobs/next?wait=0', { token: enrollment.credential });
    const spec = next.json.job as JobSpec;
    await t.call('POST', `/api/agent/v1/jobs/${spec.id}/claim`, { token: enrollment.credential, body: { claimId: 'cl_crashed1' } });
    const journal = await Journal.open(dir);
    await journal.write({ jobId: spec.id, claimId: 'cl_crashed1', phase: 'running', spec, nextEventSeq: 1, nextLogSeq: 1, events: [], logs: [], updatedAt: new Date().toISOString() });

    start(dir);
    const view = await waitFinal(id);
    expect(view.deployment.state).toBe('failure');
    expect(view.jobs[0].message).toBe(INTERRUPTED);
    expect(existsSync(join(dir, 'apps', 'demo', 'shop', 'staging', 'ran'))).toBe(false);
  });

  it('does not run a job twice when the hub offers it again', async () => {
    const files = sampleAppFiles('1');
    files['bitenvoy.yml'] = 'version: 1\nsteps:\n  - name: count\n    run: echo run >> "$BITENVOY_RELEASE_DIR/../../runs"\n';
    await pushCommit(t.appRepo, files, 'a step that counts its runs');
    const dir = await newAgent();
    start(dir);
    const id = await deployTo(`solo-${counter}`);
    const first = await waitFinal(id);
    expect(first.deployment.state).toBe('success');
    const jobId = first.jobs[0].id as string;

    // A hub restored from an old backup would offer the job again: make it pending once more (its agent's queue).
    const store = await openStore({ dataDir: t.dataDir });
    const job = (await store.get<JobRecord>(keys.job(jobId)))!;
    await store.set(keys.job(jobId), { ...job, state: 'pending', claimId: undefined, eventsAckedSeq: 0, logsAckedSeq: 0, events: [] });
    await store.close();
    t.hub.engine.notifier.notify(job.agentId);

    let again = { state: 'pending', message: '' };
    for (let i = 0; i < 100 && again.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = (await t.call('GET', `/api/v1/deployments/${id}/servers`, { token: ADMIN_TOKEN })).json.servers[0];
    }
    expect(again.state).toBe('failed');
    expect(again.message).toMatch(/already ran this job/);
    const runs = await readFile(join(dir, 'apps', 'demo', 'shop', 'staging', 'runs'), 'utf8');
    expect(runs.trim().split('\n')).toHaveLength(1);
  });
});
