/**
 * The agent never hammers the hub (issue 12, item 6): a real agent against a fake hub (real HTTP on loopback) that
 * answers every poll at once, or answers reports with 500, 429 + Retry-After, or an acknowledgement of nothing.
 * Each test counts the requests (and journal writes) over a few seconds, prints the rate, and bounds it.
 */
import { readFileSync, watch } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF } from '../../agent/hub-client.js';
import { DEFAULT_POLL_BACKOFF, runAgent } from '../../agent/run-agent.js';
import { silentLogger } from '../../lib/logger.js';
import type { JobEvent, JobSpec } from '../../lib/protocol.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';
import { enrollLocalAgent, jobSpec, startFakeHub, type FakeAnswer, type FakeHub, type RecordedRequest } from './fake-hub.js';

const WINDOW_MS = 3000;

let root: string;
let hub: FakeHub;
let bare: string;
const agents: Array<{ controller: AbortController; done: Promise<void> }> = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-agent-backoff-'));
  hub = await startFakeHub();
  bare = await createBareRepo(join(root, 'git'), 'acme/shop', { 'README.md': 'shop\n' });
});
afterEach(async () => {
  for (const a of agents.splice(0)) {
    a.controller.abort();
    await a.done;
  }
  await hub.close();
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function newAgent(): Promise<string> {
  const dir = join(root, `agent-${++counter}`);
  await enrollLocalAgent(hub, join(root, 'git'), dir, 'agent');
  return dir;
}

/**
 * An agent with the default minimum gaps (250 ms between retries, 500 ms between polls answered at once) but
 * shorter caps, so that it is quick to recover once the hub behaves again and the tests end sooner.
 */
function start(dir: string): void {
  const controller = new AbortController();
  const timing = { backoff: { ...DEFAULT_BACKOFF, capMs: 2000 }, pollBackoff: { ...DEFAULT_POLL_BACKOFF, capMs: 2000 }, shutdownFlushMs: 500 };
  agents.push({ controller, done: runAgent({ dir, log: silentLogger(), signal: controller.signal, ...timing }) });
}

async function commit(): Promise<JobSpec> {
  const steps = 'version: 1\nsteps:\n  - name: build\n    run: echo built\n  - name: test\n    run: echo tested\n';
  return jobSpec({ url: `file://${bare}`, sha: await pushCommit(bare, { 'bitenvoy.yml': steps }, 'deploy me') });
}

const isPoll = (r: RecordedRequest) => r.path.startsWith('/jobs/next');
const isReport = (r: RecordedRequest) => /\/(events|logs)$/.test(r.path);
const summary = (events: JobEvent[]) => events.map((e) => (e.type === 'state' ? e.state : `${e.step.index}:${e.status}`));
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Requests of a kind that arrived in the `WINDOW_MS` after `from`. */
function countIn(kind: (r: RecordedRequest) => boolean, from: number): number {
  return hub.requests.filter((r) => kind(r) && r.at >= from && r.at < from + WINDOW_MS).length;
}

function report(what: string, count: number): void {
  console.log(`${what}: ${count} in ${WINDOW_MS / 1000} s (${(count / (WINDOW_MS / 1000)).toFixed(1)}/s)`);
}

describe('polling', () => {
  it('waits between polls when every poll is answered at once, backing off, and is back to normal once they are held', async () => {
    const dir = await newAgent();
    hub.fail.before = (_method, path) => (path.startsWith('/jobs/next') ? { status: 204 } : undefined);
    const from = Date.now();
    start(dir);
    await delay(WINDOW_MS);
    const polls = countIn(isPoll, from);
    report('polls answered at once with 204', polls);
    expect(polls).toBeGreaterThanOrEqual(2);
    // Never closer than the 500 ms minimum gap: at most 6 in 3 s (and the gaps grow from there).
    expect(polls).toBeLessThanOrEqual(6);

    hub.fail.before = undefined;
    const spec = await commit();
    hub.offer(spec);
    await hub.waitFor(() => hub.finalState(spec.id) === 'succeeded', 60_000);
  }, 90_000);

  it('waits between polls when every poll fails at once (a proxy answering 404, a hub answering 500)', async () => {
    for (const status of [404, 500]) {
      hub.requests.length = 0;
      const dir = await newAgent();
      hub.fail.before = (_method, path) => (path.startsWith('/jobs/next') ? status : undefined);
      const from = Date.now();
      start(dir);
      await delay(WINDOW_MS);
      const polls = countIn(isPoll, from);
      report(`polls answered at once with ${status}`, polls);
      expect(polls).toBeGreaterThanOrEqual(2);
      expect(polls).toBeLessThan(20);
      const agent = agents.pop()!;
      agent.controller.abort();
      await agent.done;
    }
  }, 60_000);
});

describe('reports', { timeout: 90_000 }, () => {
  /**
   * Runs a job whose reports get `answer` until the test is done counting: from when the job has run on the server
   * (only its delivery is left) for WINDOW_MS, report requests and journal writes are counted. Then the hub takes
   * them; returns once they all arrived.
   */
  async function runWhileReportsAre(answer: () => number | FakeAnswer): Promise<{ reports: number; journalWrites: number; spec: JobSpec }> {
    const dir = await newAgent();
    let released = false;
    hub.fail.before = (_method, path) => (/\/(events|logs)$/.test(path) && !released ? answer() : undefined);
    start(dir);
    const spec = await commit();
    hub.offer(spec);
    const record = join(dir, 'journal', `${spec.id}.json`);
    const ranHere = () => {
      try {
        return readFileSync(record, 'utf8').includes('"phase":"done"');
      } catch {
        return true; // delivered and dropped already (or never written: then the next check fails the test)
      }
    };
    await hub.waitFor(() => hub.requests.some(isReport) && ranHere(), 60_000);
    // Every journal write is a temp file renamed into place (with an fsync): count the temp files made. The only
    // write due now is the one as delivery starts (it may fall in the window); none is due for a resend.
    const temps = new Set<string>();
    const watcher = watch(join(dir, 'journal'), (_event, name) => {
      if (name?.endsWith('.tmp')) temps.add(name);
    });
    const from = Date.now();
    try {
      await delay(WINDOW_MS);
    } finally {
      watcher.close();
    }
    const reports = countIn(isReport, from);
    released = true;
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined, 60_000);
    return { reports, journalWrites: temps.size, spec };
  }

  it('resends reports the hub answers with 500 after a growing, jittered pause, and delivers them all once it takes them', async () => {
    const { reports, journalWrites, spec } = await runWhileReportsAre(() => 500);
    report('reports answered 500', reports);
    report('journal writes meanwhile', journalWrites);
    expect(reports).toBeLessThan(20);
    expect(journalWrites).toBeLessThanOrEqual(1);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', '1:started', '1:succeeded', 'succeeded']);
  });

  it('resends reports the hub acknowledges nothing of with backoff, never in a tight loop nor with a journal write each', async () => {
    // A hub (or something in front of it) that answers 200 but stores nothing.
    const { reports, journalWrites, spec } = await runWhileReportsAre(() => ({ status: 200, body: { ackedSeq: 0 } }));
    report('reports acknowledged with nothing', reports);
    report('journal writes meanwhile', journalWrites);
    expect(reports).toBeLessThan(20);
    expect(journalWrites).toBeLessThanOrEqual(1);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', '1:started', '1:succeeded', 'succeeded']);
  });

  it('honours 429 BE_RATE_LIMITED: waits at least Retry-After before resending, and drops nothing', async () => {
    const limited: FakeAnswer = {
      status: 429,
      headers: { 'retry-after': '1' },
      body: { error: { code: 'BE_RATE_LIMITED', message: 'too many reports; try again in 1 s', details: { retryAfterSeconds: 1 } } },
    };
    const { reports, journalWrites, spec } = await runWhileReportsAre(() => limited);
    report('reports answered 429 (Retry-After: 1)', reports);
    expect(reports).toBeLessThanOrEqual(3);
    expect(journalWrites).toBeLessThanOrEqual(1);
    // After each 429, the next report came a second or more later.
    const sent = hub.requests.filter(isReport).sort((a, b) => a.at - b.at);
    for (const [i, r] of sent.entries()) if (r.status === 429 && sent[i + 1]) expect(sent[i + 1]!.at - r.at).toBeGreaterThanOrEqual(1000);
    expect(sent.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(2);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', '1:started', '1:succeeded', 'succeeded']);
    expect(hub.jobs.get(spec.id)!.logs.map((c) => c.data).join('')).toContain('built\n');
  });
});
