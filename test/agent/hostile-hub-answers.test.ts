/**
 * Answers a hub gone wrong (or hostile) may give to the agent's reports: a real agent against the fake hub (real HTTP
 * on loopback). Whatever the hub answers, the agent must neither stop nor drop the reports: it resends them with
 * backoff until the hub takes them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DEFAULT_BACKOFF } from '../../agent/hub-client.js';
import { DEFAULT_POLL_BACKOFF, runAgent } from '../../agent/run-agent.js';
import { silentLogger } from '../../lib/logger.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';
import { enrollLocalAgent, jobSpec, startFakeHub, type FakeAnswer, type FakeHub } from './fake-hub.js';

let root: string;
let hub: FakeHub;
let controller: AbortController;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-hostile-answers-'));
  hub = await startFakeHub();
  controller = new AbortController();
});
afterEach(async () => {
  controller.abort();
  await hub.close();
  await rm(root, { recursive: true, force: true });
});

const isReport = (path: string) => /\/(events|logs)$/.test(path);

it.each<[string, FakeAnswer]>([
  ['204 without a body', { status: 204 }],
  ['200 with a JSON string', { status: 200, body: 'ok' }],
])('keeps running and resends reports the hub answers with %s', async (_name, answer) => {
  const bare = await createBareRepo(join(root, 'git'), 'acme/shop', { 'README.md': 'shop\n' });
  const dir = join(root, 'agent');
  await enrollLocalAgent(hub, join(root, 'git'), dir, 'agent');
  let released = false;
  hub.fail.before = (_method, path) => (isReport(path) && !released ? answer : undefined);
  let stopped: unknown;
  const done = runAgent({
    dir,
    log: silentLogger(),
    signal: controller.signal,
    backoff: { ...DEFAULT_BACKOFF, capMs: 500 },
    pollBackoff: { ...DEFAULT_POLL_BACKOFF, capMs: 500 },
    shutdownFlushMs: 200,
  }).then(
    () => (stopped = 'returned'),
    (err: unknown) => (stopped = err),
  );
  const sha = await pushCommit(bare, { 'bitenvoy.yml': 'version: 1\nsteps:\n  - name: build\n    run: echo built\n' }, 'deploy me');
  const spec = jobSpec({ url: `file://${bare}`, sha });
  hub.offer(spec);
  // The job runs to its end on the server; its reports keep getting the odd answer for a while after that (its
  // delivery at the job's end is what must not give up).
  const record = join(dir, 'journal', `${spec.id}.json`);
  await hub.waitFor(() => existsSync(record) && readFileSync(record, 'utf8').includes('"phase":"done"'), 30_000);
  const from = hub.requests.length;
  await hub.waitFor(() => hub.requests.slice(from).filter((r) => isReport(r.path) && r.status === answer.status).length >= 3 || stopped !== undefined, 30_000);
  expect(stopped).toBeUndefined();
  released = true;
  await hub.waitFor(() => hub.finalState(spec.id) !== undefined || stopped !== undefined, 30_000);
  expect(stopped).toBeUndefined();
  expect(hub.finalState(spec.id)).toBe('succeeded');
  controller.abort();
  await done;
  expect(stopped).toBe('returned');
}, 60_000);
