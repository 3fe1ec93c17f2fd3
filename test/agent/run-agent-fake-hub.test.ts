/**
 * The agent's run loop against a small fake hub (real HTTP on loopback, sequence numbers enforced) and real git
 * repositories: a job end to end, a hub that answers 503 and loses acknowledgements, allowlist refusals before any
 * fetch, crash recovery from the journal, cancellation, a stop mid-step, and never running a job twice.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, type JournalRecord } from '../../agent/journal.js';
import { ALREADY_RUN, INTERRUPTED, runAgent } from '../../agent/run-agent.js';
import { silentLogger } from '../../lib/logger.js';
import type { JobEvent, JobSpec } from '../../lib/protocol.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';
import { enrollLocalAgent, jobSpec, startFakeHub, type FakeHub } from './fake-hub.js';

let root: string;
let hub: FakeHub;
let bare: string;
const agents: Array<{ controller: AbortController; done: Promise<void> }> = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-agent-loop-'));
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
async function newAgent(files: Record<string, string> = {}): Promise<string> {
  const dir = join(root, `agent-${++counter}`);
  await enrollLocalAgent(hub, join(root, 'git'), dir, `agent-${counter}`);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o600 });
  return dir;
}

function start(dir: string): { controller: AbortController; done: Promise<void> } {
  const controller = new AbortController();
  const agent = { controller, done: runAgent({ dir, log: silentLogger(), signal: controller.signal, backoff: { baseMs: 20, capMs: 100 }, killGraceMs: 300, shutdownFlushMs: 3000 }) };
  agents.push(agent);
  return agent;
}

async function commit(instructions: string, extra: Record<string, string> = {}): Promise<JobSpec> {
  const sha = await pushCommit(bare, { 'bitenvoy.yml': instructions, ...extra }, 'deploy me');
  return jobSpec({ url: `file://${bare}`, sha });
}

const summary = (events: JobEvent[]) => events.map((e) => (e.type === 'state' ? e.state : `${e.step.index}:${e.status}`));
const output = (jobId: string, stream?: string) =>
  hub.jobs
    .get(jobId)!
    .logs.filter((c) => !stream || c.stream === stream)
    .map((c) => c.data)
    .join('');
const message = (jobId: string) => hub.jobs.get(jobId)!.events.findLast((e) => e.type === 'state')?.message;

/** Running, not a zombie waiting for a reaper. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const THREE_STEPS = `version: 1
steps:
  - name: build
    run: echo "building $BITENVOY_SHA for $BITENVOY_REPOSITORY/$BITENVOY_ENVIRONMENT"; echo careful >&2; echo built > build.txt
  - name: check
    run: test -f build.txt && echo "build is there"
  - name: restart
    run: echo "current is $(readlink "$BITENVOY_CURRENT_DIR")"
    afterSwitch: true
`;

describe('the validate health gate', () => {
  it('counts the server done only once its health URL answers as expected, retrying until then', async () => {
    let asked = 0;
    const health = createServer((_req, res) => res.writeHead(++asked < 3 ? 503 : 204).end());
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
      const dir = await newAgent();
      const spec = await commit(`version: 1\nsteps:\n  - name: start\n    run: echo starting\nvalidate:\n  http: { url: '${url}', status: 204 }\n  timeout: 10s\n  interval: 100ms\n`);
      start(dir);
      hub.offer(spec);
      await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
      expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', '1:started', '1:succeeded', 'succeeded']);
      expect(hub.jobs.get(spec.id)!.events.find((e) => e.type === 'step' && e.step.index === 1)).toMatchObject({ step: { index: 1, name: 'validate' } });
      expect(output(spec.id, 'system')).toContain(`validate: GET ${url} answered 503 (expected 204); trying again in 0.1 s\n`);
      expect(output(spec.id, 'system')).toContain(`validate: GET ${url} passed (try 3)\n`);
      expect(asked).toBe(3);
    } finally {
      await new Promise((r) => health.close(r));
    }
  });

  it('fails the server when the validate command keeps failing until its timeout, naming what failed', async () => {
    const dir = await newAgent();
    const spec = await commit('version: 1\nsteps:\n  - name: start\n    run: echo starting\nvalidate:\n  run: echo not ready; exit 3\n  timeout: 1s\n  interval: 200ms\n');
    start(dir);
    hub.offer(spec);
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
    expect(hub.finalState(spec.id)).toBe('failed');
    expect(message(spec.id)).toMatch(/^validate: `echo not ready; exit 3` exited with code 3; still failing after [3-5] tries in 1 s$/);
    expect(output(spec.id, 'stdout')).toContain('not ready\n');
  });
});

describe('secrets in a real run', () => {
  const TOKEN = 'tok-5f3c9a7e1d2b4c6a8e0f1a2b3c4d5e6f7a8b';
  const PASSPHRASE = 'correct horse battery staple';
  const SECRETS_YML = `PASSPHRASE: ${PASSPHRASE}\nTOKEN: ${TOKEN}\nGLOB: "* [a]"\n`;

  it('expands references to exactly the value, sends the agent’s own lines whole and in order, and never a secret', async () => {
    const dir = await newAgent({ 'secrets.yml': SECRETS_YML });
    const spec = await commit(`version: 1
steps:
  - name: build
    run: |
      echo "$(printf '%s' "\${{ secrets.PASSPHRASE }}")" > passphrase.txt
      printf '%s' \${{ secrets.GLOB }} > glob.txt
      printf 'token=%s' "$(printf '%s' "\${{ secrets.TOKEN }}" | cut -c1-12)"
      sleep 0.5
      printf '%s\\n' "$(printf '%s' "\${{ secrets.TOKEN }}" | cut -c13-)"
      echo build done
  - name: restart
    run: echo restarted
    afterSwitch: true
`);
    start(dir);
    hub.offer(spec);
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
    expect(hub.finalState(spec.id), message(spec.id)).toBe('succeeded');

    // The issue's command substitution and a glob: exactly the value, one word, nothing expanded.
    const release = join(dir, 'apps', 'acme', 'shop', 'staging', 'releases', spec.id);
    expect(await readFile(join(release, 'passphrase.txt'), 'utf8')).toBe(`${PASSPHRASE}\n`);
    expect(await readFile(join(release, 'glob.txt'), 'utf8')).toBe('* [a]');

    // Every system line arrives whole, in its place between the steps' output (not cut, its tail not after them).
    const chunks = [...hub.jobs.get(spec.id)!.logs].sort((a, b) => a.seq - b.seq);
    for (const chunk of chunks.filter((c) => c.stream === 'system')) expect(chunk.data, JSON.stringify(chunk.data)).toMatch(/\n$/);
    const transcript = chunks.map((c) => `[${c.stream}${c.step === undefined ? '' : ` ${c.step}`}] ${c.data}`).join('');
    // The agent may send two of its lines in one chunk (they are joined when sent together): look for whole lines.
    const systemText = chunks.filter((c) => c.stream === 'system').map((c) => c.data).join('');
    expect(systemText).toContain(`checked out ${spec.sha.slice(0, 7)} into ${release}\n`);
    expect(systemText).toContain(`current → releases/${spec.id}\n`);
    const checkedOut = transcript.indexOf(`checked out ${spec.sha.slice(0, 7)} into ${release}\n`);
    const build = transcript.indexOf('[stdout 0] token=');
    const switched = transcript.indexOf(`current → releases/${spec.id}\n`);
    const restarted = transcript.indexOf('[stdout 1] restarted\n');
    expect([checkedOut, build, switched, restarted].every((at) => at >= 0), transcript).toBe(true);
    expect(checkedOut < build && build < switched && switched < restarted, transcript).toBe(true);

    // A secret split across two writes of a step is still masked; no piece of one reaches the hub.
    expect(output(spec.id, 'stdout')).toBe('token=***\nbuild done\nrestarted\n');
    const sent = JSON.stringify(hub.requests.map((r) => r.body));
    for (const piece of [TOKEN, TOKEN.slice(0, 12), TOKEN.slice(12), PASSPHRASE]) expect(sent).not.toContain(piece);
  });
});

describe('the agent against a fake hub', () => {
  it('runs a job end to end: events in order, output, the release and the current switch', async () => {
    const dir = await newAgent();
    const spec = await commit(THREE_STEPS);
    start(dir);
    hub.offer(spec);
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
    const job = hub.jobs.get(spec.id)!;
    expect(summary(job.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', '1:started', '1:succeeded', '2:started', '2:succeeded', 'succeeded']);
    expect(job.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(job.events[3]).toMatchObject({ type: 'step', step: { index: 0, name: 'build' }, exitCode: 0 });
    expect(output(spec.id, 'stdout')).toContain(`building ${spec.sha} for acme/shop/staging\nbuild is there\ncurrent is releases/${spec.id}\n`);
    expect(output(spec.id, 'stderr')).toBe('careful\n');
    // allow.branches (pinned at enrollment): the branch is fetched, not the SHA.
    expect(output(spec.id, 'system')).toContain(`commit ${spec.sha.slice(0, 7)} is on main\n`);

    const app = join(dir, 'apps', 'acme', 'shop', 'staging');
    expect(await readlink(join(app, 'current'))).toBe(join('releases', spec.id));
    expect((await readdir(join(app, 'releases', spec.id))).sort()).toEqual(['README.md', 'bitenvoy.yml', 'build.txt']);
    // The claim came first; the finished job left only its id in the journal.
    expect(hub.requests.find((r) => r.path.startsWith('/jobs/') && r.path !== '/jobs/next?wait=1')?.path).toBe(`/jobs/${spec.id}/claim`);
    // finish() writes the index, then drops the job's record: wait for both.
    await hub.waitFor(() => existsSync(join(dir, 'journal', 'finished.index')) && !existsSync(join(dir, 'journal', `${spec.id}.json`)));
    expect((await readdir(join(dir, 'journal'))).filter((f) => f.endsWith('.json'))).toEqual([]);
  });

  it('delivers every event once and in order through 503s and lost acknowledgements', async () => {
    const dir = await newAgent();
    const spec = await commit(THREE_STEPS);
    let eventFailures = 3;
    let logFailures = 2;
    let lostAcks = 2;
    hub.fail.before = (_m, path) => {
      if (path.endsWith('/events') && eventFailures > 0) return (eventFailures--, 503);
      if (path.endsWith('/logs') && logFailures > 0) return (logFailures--, 502);
      return undefined;
    };
    hub.fail.afterStore = (_m, path) => (path.endsWith('/events') && lostAcks > 0 ? (lostAcks--, 503) : undefined);
    start(dir);
    hub.offer(spec);
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
    const job = hub.jobs.get(spec.id)!;
    expect(summary(job.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', '1:started', '1:succeeded', '2:started', '2:succeeded', 'succeeded']);
    expect(job.logs.map((c) => c.seq)).toEqual(job.logs.map((_c, i) => i + 1));
    expect(output(spec.id, 'stdout').match(/build is there/g)).toHaveLength(1);
    expect(hub.requests.filter((r) => r.status >= 500).length).toBe(7);
  });

  it('refuses jobs outside its allowlist before fetching anything, naming the rule', async () => {
    const dir = await newAgent({ 'agent.yml': 'allow:\n  repositories: [acme/*]\n  environments: [production]\n' });
    const other = jobSpec({ url: 'file:///nowhere/other.git', sha: 'a'.repeat(40), repository: 'other/tool', environment: 'production' });
    const staging = jobSpec({ url: 'file:///nowhere/shop.git', sha: 'a'.repeat(40), repository: 'acme/shop', environment: 'staging' });
    start(dir);
    hub.offer(other);
    hub.offer(staging);
    await hub.waitFor(() => hub.finalState(other.id) !== undefined && hub.finalState(staging.id) !== undefined);
    expect(summary(hub.jobs.get(other.id)!.events)).toEqual(['refused']);
    expect(message(other.id)).toMatch(/does not accept repository other\/tool \(allow\.repositories: acme\/\*\); the server's owner can add `other\/tool` or `other\/\*`/);
    expect(summary(hub.jobs.get(staging.id)!.events)).toEqual(['refused']);
    expect(message(staging.id)).toMatch(/does not accept environment staging \(allow\.environments: production\); the server's owner can add `staging`/);
    expect(existsSync(join(dir, 'git'))).toBe(false);
  });

  it('does not start with an invalid agent.yml, and lists the problem', async () => {
    const dir = await newAgent({ 'agent.yml': 'allow:\n  repos: [acme/*]\n' });
    await expect(runAgent({ dir, log: silentLogger(), signal: new AbortController().signal })).rejects.toThrow(/agent\.yml is not valid; the agent will not start until it is:[\s\S]*repos/);
  });

  it('explains how to enroll when the directory is not enrolled', async () => {
    await expect(runAgent({ dir: join(root, 'empty'), log: silentLogger(), signal: new AbortController().signal })).rejects.toThrow(
      /agent\.json is missing: this agent is not enrolled; run `bitenvoy agent enroll --hub <url> --token <token> --dir .*empty` first/,
    );
  });

  it('never runs a job twice when the hub offers it again', async () => {
    const dir = await newAgent();
    const spec = await commit('version: 1\nsteps:\n  - name: count\n    run: echo run >> "$BITENVOY_RELEASE_DIR/../../runs"\n');
    start(dir);
    hub.offer(spec);
    await hub.waitFor(() => hub.finalState(spec.id) === 'succeeded');
    await hub.waitFor(() => existsSync(join(dir, 'journal', 'finished.index')));

    hub.offer(spec); // as a hub restored from an old backup would
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['failed']);
    expect(message(spec.id)).toBe(ALREADY_RUN);
    expect((await readFile(join(dir, 'apps', 'acme', 'shop', 'staging', 'runs'), 'utf8')).trim().split('\n')).toEqual(['run']);
  });

  it('after a crash, reports interrupted jobs failed without re-running them and resends what was not acknowledged', async () => {
    const dir = await newAgent();
    const spec = () => jobSpec({ url: `file://${bare}`, sha: 'c'.repeat(40) });
    const running = spec();
    const claiming = spec();
    const done = spec();
    const lost = spec();
    for (const [s, claimId] of [[running, 'cl_run'], [done, 'cl_done'], [lost, 'cl_lost']] as const) hub.jobs.set(s.id, { spec: s, claimId, events: [], logs: [], cancelRequested: false });
    hub.jobs.set(claiming.id, { spec: claiming, events: [], logs: [], cancelRequested: false });
    // `lost`: the hub acknowledged events 1 and 2, then lost them (restored from a backup).
    const at = new Date().toISOString();
    const record = (s: JobSpec, claimId: string, phase: JournalRecord['phase'], events: JobEvent[] = [], nextEventSeq = 1): JournalRecord => ({
      jobId: s.id, claimId, phase, spec: s, nextEventSeq, nextLogSeq: 1, events, logs: [], updatedAt: at,
    });
    const journal = await Journal.open(dir);
    await journal.write(record(running, 'cl_run', 'running', [{ seq: 1, at, type: 'state', state: 'fetching' }], 2));
    await journal.write(record(claiming, 'cl_claiming', 'claiming'));
    await journal.write(record(done, 'cl_done', 'done', [{ seq: 1, at, type: 'state', state: 'running' }, { seq: 2, at, type: 'state', state: 'succeeded' }], 3));
    await journal.write(record(lost, 'cl_lost', 'done', [{ seq: 3, at, type: 'state', state: 'failed', message: 'step x exited with code 1' }], 4));

    start(dir);
    await hub.waitFor(() => [running, claiming, done, lost].every((s) => hub.finalState(s.id) !== undefined));
    expect(summary(hub.jobs.get(running.id)!.events)).toEqual(['fetching', 'failed']);
    expect(message(running.id)).toBe(INTERRUPTED);
    // The claim is retried with the journaled claimId, then reported interrupted too.
    expect(hub.requests.find((r) => r.path === `/jobs/${claiming.id}/claim`)?.body).toEqual({ claimId: 'cl_claiming' });
    expect(summary(hub.jobs.get(claiming.id)!.events)).toEqual(['failed']);
    expect(summary(hub.jobs.get(done.id)!.events)).toEqual(['running', 'succeeded']);
    expect(hub.jobs.get(lost.id)!.events).toMatchObject([{ seq: 1, state: 'failed', message: 'step x exited with code 1' }]);
    expect(existsSync(join(dir, 'apps'))).toBe(false);
    // finish() writes the index, then drops each record: wait for the last record to go.
    await hub.waitFor(() => readFileSync(join(dir, 'journal', 'finished.index'), 'utf8').includes(lost.id) && readdirSync(join(dir, 'journal')).every((f) => !f.endsWith('.json')));
    expect((await readdir(join(dir, 'journal'))).filter((f) => f.endsWith('.json'))).toEqual([]);
  });

  it('stops the whole step when the hub cancels the job, and reports it cancelled', async () => {
    hub.leaseSeconds = 0.6;
    const dir = await newAgent();
    const spec = await commit('version: 1\nsteps:\n  - name: wait\n    run: sleep 30 & echo $! > "$BITENVOY_RELEASE_DIR/../../child.pid"; wait\n');
    start(dir);
    hub.offer(spec);
    await hub.waitFor(() => hub.jobs.get(spec.id)!.events.some((e) => e.type === 'step' && e.status === 'started'));
    hub.jobs.get(spec.id)!.cancelRequested = true;
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:failed', 'cancelled']);
    expect(message(spec.id)).toBe('cancelled by the hub');
    const child = Number(await readFile(join(dir, 'apps', 'acme', 'shop', 'staging', 'child.pid'), 'utf8'));
    await hub.waitFor(() => !alive(child), 2000);
    expect(existsSync(join(dir, 'apps', 'acme', 'shop', 'staging', 'current'))).toBe(false);
  });

  it('stops politely: the running step is stopped and its cancellation reaches the hub before runAgent returns', async () => {
    const dir = await newAgent();
    const spec = await commit('version: 1\nsteps:\n  - name: wait\n    run: echo waiting; sleep 30\n');
    const agent = start(dir);
    hub.offer(spec);
    await hub.waitFor(() => output(spec.id).includes('waiting'));
    agent.controller.abort();
    await agent.done;
    expect(hub.finalState(spec.id)).toBe('cancelled');
    expect(message(spec.id)).toMatch(/agent-\d+ was stopped while the job ran/);
  });

  it('fails the job at the first failing step, names it, and leaves current alone', async () => {
    const dir = await newAgent();
    const spec = await commit('version: 1\nsteps:\n  - name: build\n    run: |\n      echo compiling; echo "error: broken" >&2; exit 3\n  - name: never\n    run: echo never\n');
    start(dir);
    hub.offer(spec);
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:failed', 'failed']);
    expect(hub.jobs.get(spec.id)!.events[3]).toMatchObject({ exitCode: 3 });
    expect(message(spec.id)).toBe('step build exited with code 3');
    expect(output(spec.id, 'stderr')).toBe('error: broken\n');
    expect(existsSync(join(dir, 'apps', 'acme', 'shop', 'staging', 'current'))).toBe(false);
  });

  it('fails clearly on a missing instruction file, an invalid one, and an undefined secret', async () => {
    const dir = await newAgent({ 'secrets.yml': 'KNOWN: value-1234\n' });
    start(dir);
    const missing = jobSpec({ url: `file://${bare}`, sha: await pushCommit(bare, { 'bitenvoy.yml': null }, 'no instructions') });
    hub.offer(missing);
    await hub.waitFor(() => hub.finalState(missing.id) !== undefined);
    expect(message(missing.id)).toBe(`no bitenvoy.yml in acme/shop@${missing.sha.slice(0, 7)}: add an instruction file (see templates/bitenvoy.yml)`);

    const invalid = await commit('version: 1\nsteps:\n  - name: x\n    runn: echo\n');
    hub.offer(invalid);
    await hub.waitFor(() => hub.finalState(invalid.id) !== undefined);
    expect(message(invalid.id)).toMatch(/^bitenvoy\.yml in [0-9a-f]{7} is invalid: /);

    const secret = await commit('version: 1\nsteps:\n  - name: migrate\n    run: echo ${{ secrets.KNOWN }} ${{ secrets.MISSING }}\n');
    hub.offer(secret);
    await hub.waitFor(() => hub.finalState(secret.id) !== undefined);
    expect(summary(hub.jobs.get(secret.id)!.events)).toEqual(['fetching', 'running', '0:failed', 'failed']);
    expect(message(secret.id)).toBe(`step \`migrate\` uses secrets.MISSING, which is not in ${join(dir, 'secrets.yml')}; add \`MISSING: …\` there on this server`);
  });
});

describe('local rollback', () => {
  const WITH_ROLLBACK = (version: string) => `version: 1
steps:
  - name: build
    run: echo ${version} > version.txt; echo "full deploy of ${version}" >> "$BITENVOY_RELEASE_DIR/../../deploys.log"
rollback:
  - name: restart
    run: echo "restart $(cat version.txt) in $(basename "$PWD")" >> "$BITENVOY_RELEASE_DIR/../../deploys.log"
`;
  const deploysLog = (dir: string) => readFile(join(dir, 'apps/acme/shop/staging/deploys.log'), 'utf8');
  const currentOf = (dir: string) => readlink(join(dir, 'apps/acme/shop/staging/current'));

  async function deploy(spec: JobSpec): Promise<void> {
    hub.offer(spec);
    await hub.waitFor(() => hub.finalState(spec.id) !== undefined);
    expect(hub.finalState(spec.id), message(spec.id)).toBe('succeeded');
  }

  it('switches current back to the kept release of the commit and runs its rollback steps, without fetching', async () => {
    const dir = await newAgent();
    start(dir);
    const v1 = await commit(WITH_ROLLBACK('v1'));
    await deploy(v1);
    await deploy(await commit(WITH_ROLLBACK('v2')));
    const fetchedBefore = readdirSync(join(dir, 'git/acme/shop.git/refs/bitenvoy/jobs')).length;

    const back = { ...jobSpec({ url: `file://${bare}`, sha: v1.sha }), rollback: true };
    await deploy(back);
    expect(summary(hub.jobs.get(back.id)!.events)).toEqual(['running', '0:started', '0:succeeded', 'succeeded']);
    expect(await currentOf(dir)).toBe(`releases/${v1.id}`);
    expect(await deploysLog(dir)).toBe(`full deploy of v1\nfull deploy of v2\nrestart v1 in ${v1.id}\n`);
    expect(output(back.id, 'system')).toContain(`rollback: restoring the kept release ${v1.id} of ${v1.sha.slice(0, 7)} and running its rollback steps\n`);
    // Nothing was fetched, and no new release directory was made.
    expect(readdirSync(join(dir, 'git/acme/shop.git/refs/bitenvoy/jobs')).length).toBe(fetchedBefore);
    expect(existsSync(join(dir, 'apps/acme/shop/staging/releases', back.id))).toBe(false);
  });

  it('deploys in full when the commit has no kept release here, or its instruction file has no rollback steps', async () => {
    const dir = await newAgent();
    const first = start(dir);
    const plain = await commit('version: 1\nsteps:\n  - name: build\n    run: echo plain > version.txt\n');
    await deploy(plain);
    await deploy(await commit(WITH_ROLLBACK('v2')));

    const back = { ...jobSpec({ url: `file://${bare}`, sha: plain.sha }), rollback: true };
    await deploy(back);
    expect(summary(hub.jobs.get(back.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', 'succeeded']);
    expect(output(back.id, 'system')).toContain(`rollback: the kept release ${plain.id} has no \`rollback\` steps in bitenvoy.yml; deploying ${plain.sha.slice(0, 7)} in full\n`);
    expect(await currentOf(dir)).toBe(`releases/${back.id}`);

    first.controller.abort();
    await first.done;
    const elsewhere = await newAgent();
    start(elsewhere);
    const fresh = { ...jobSpec({ url: `file://${bare}`, sha: plain.sha }), rollback: true };
    await deploy(fresh);
    expect(output(fresh.id, 'system')).toContain(`rollback: no kept release of ${plain.sha.slice(0, 7)} on this server; deploying it in full\n`);
    expect(summary(hub.jobs.get(fresh.id)!.events)[0]).toBe('fetching');
  });

  it('never restores a release whose deploy failed', async () => {
    const dir = await newAgent();
    start(dir);
    const broken = await commit('version: 1\nsteps:\n  - name: build\n    run: "true"\n    afterSwitch: true\nvalidate:\n  run: exit 1\n  timeout: 1s\n  interval: 200ms\nrollback:\n  - name: restart\n    run: echo restored\n');
    hub.offer(broken);
    await hub.waitFor(() => hub.finalState(broken.id) !== undefined);
    expect(hub.finalState(broken.id)).toBe('failed');
    const back = { ...jobSpec({ url: `file://${bare}`, sha: broken.sha }), rollback: true };
    hub.offer(back);
    await hub.waitFor(() => hub.finalState(back.id) !== undefined);
    expect(output(back.id, 'system')).toContain('no kept release');
  });
});
