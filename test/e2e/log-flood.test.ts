/**
 * One rogue agent must not take the hub down for everyone. A real hub process with a 3 s lease; agent A floods its
 * own job with 100,000 one-byte (and empty) log chunks as fast as it can, ignoring Retry-After, while ten clients
 * reload A's deployment page and a prober reads /healthz; meanwhile agent B runs a deployment of another
 * environment, renewing its lease every second as agents do. B's job must succeed (never "stopped renewing its
 * lease"), A must be told 429, A's page must stay fast, and the entries stored for A's job must stay bounded.
 *
 * The agents are simulated over HTTP (as in bench/simulated-agents.ts): they speak the real agent API, but A
 * behaves as no real agent would, and B's timing is measured exactly.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_LOG_ENTRIES } from '../../app/jobs/job-logs.js';
import { keys, type JobRecord } from '../../app/model.js';
import { openStore } from '../../app/store/open-store.js';
import { ADMIN_API_PREFIX, AGENT_API_PREFIX } from '../../lib/protocol.js';
import { startWorld, type World } from '../../testbed/world.js';

const SHA = 'b'.repeat(40);
const FLOOD_CHUNKS = 100_000;
const B_RUNS_MS = 12_000;
let world: World;

beforeAll(async () => {
  world = await startWorld({
    agents: 0,
    hubEnv: { BITENVOY_LEASE_SECONDS: '3' },
    configFiles: {
      'groups.yml': 'groups:\n  a:\n    selector:\n      matchLabels: { role: a }\n  b:\n    selector:\n      matchLabels: { role: b }\n',
      // The simulated agents fetch nothing: the commit is given as a full SHA, so the hub need not reach this URL.
      'repositories/demo/shop.yml': 'git: https://git.invalid/demo/shop.git\nenvironments:\n  env-a:\n    branch: main\n    group: a\n  env-b:\n    branch: main\n    group: b\n',
    },
  });
});
afterAll(async () => world?.close());

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any; ms: number }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- API answers are checked field by field
  const started = performance.now();
  const res = await fetch(`${world.hub.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : text, ms: performance.now() - started };
}

async function enroll(name: string, role: string): Promise<string> {
  const minted = await call('POST', `${ADMIN_API_PREFIX}/enrollment-tokens`, world.hub.adminToken);
  const res = await fetch(`${world.hub.url}${AGENT_API_PREFIX}/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: minted.json.token, name, labels: { role }, version: 'test' }),
  });
  const json = (await res.json()) as { credential: string };
  expect(res.status).toBe(201);
  return json.credential;
}

async function startJob(environment: string, credential: string, claimId: string): Promise<{ deploymentId: string; jobId: string }> {
  const dep = await call('POST', `${ADMIN_API_PREFIX}/deployments`, world.hub.adminToken, { repository: 'demo/shop', ref: SHA, environment });
  expect(dep.status).toBe(201);
  const next = await call('GET', `${AGENT_API_PREFIX}/jobs/next?wait=10`, credential);
  expect(next.status).toBe(200);
  const jobId = next.json.job.id as string;
  expect((await call('POST', `${AGENT_API_PREFIX}/jobs/${jobId}/claim`, credential, { claimId })).status).toBe(200);
  return { deploymentId: dep.json.deployment.id as string, jobId };
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? NaN;

it('a flooding agent cannot make another deployment\'s lease expire, nor its own page slow', async () => {
  const a = await enroll('flood-a', 'a');
  const b = await enroll('steady-b', 'b');
  const jobA = await startJob('env-a', a, 'cl_flooda1');
  const jobB = await startJob('env-b', b, 'cl_steadyb1');
  const at = () => new Date().toISOString();
  let running = true;

  // A: as fast as it can, four requests at a time, each the next 500 chunks (every seventh empty); refused
  // batches are sent again at once, Retry-After or not.
  const flood = { requests: 0, refused: 0, acked: 0, errors: 0 };
  const floodWorker = async () => {
    while (running && flood.acked < FLOOD_CHUNKS) {
      const from = flood.acked + 1;
      const chunks = Array.from({ length: 500 }, (_, i) => ({ seq: from + i, at: at(), stream: 'stdout', data: (from + i) % 7 === 0 ? '' : 'x' }));
      const res = await call('POST', `${AGENT_API_PREFIX}/jobs/${jobA.jobId}/logs`, a, { claimId: 'cl_flooda1', chunks }).catch(() => undefined);
      flood.requests++;
      if (!res) flood.errors++;
      else if (res.status === 429) flood.refused++;
      else if (res.status === 200) flood.acked = Math.max(flood.acked, res.json.ackedSeq as number);
    }
  };

  // Ten people reloading A's deployment page, and a prober on /healthz.
  const pageMs: number[] = [];
  const pageStatuses = new Set<number>();
  const reader = async () => {
    while (running) {
      const res = await call('GET', `/deployments/${jobA.deploymentId}`, '');
      pageMs.push(res.ms);
      pageStatuses.add(res.status);
    }
  };
  const healthMs: number[] = [];
  const prober = async () => {
    while (running) {
      healthMs.push((await call('GET', '/healthz', '')).ms);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  // B: a real agent's rhythm — lease every second (a third of the 3 s lease), a few events and log lines.
  const renewMs: number[] = [];
  let leaseRefused: string | undefined;
  const steady = async () => {
    const started = Date.now();
    let eventSeq = 0;
    const event = (body: object) => call('POST', `${AGENT_API_PREFIX}/jobs/${jobB.jobId}/events`, b, { claimId: 'cl_steadyb1', events: [{ seq: ++eventSeq, at: at(), ...body }] });
    expect((await event({ type: 'state', state: 'running' })).status).toBe(200);
    expect((await event({ type: 'step', step: { index: 0, name: 'build' }, status: 'started' })).status).toBe(200);
    let logSeq = 0;
    while (Date.now() - started < B_RUNS_MS) {
      const lease = await call('POST', `${AGENT_API_PREFIX}/jobs/${jobB.jobId}/lease`, b, { claimId: 'cl_steadyb1' });
      renewMs.push(lease.ms);
      if (lease.status !== 200) return void (leaseRefused = `${lease.status} ${JSON.stringify(lease.json)}`);
      await call('POST', `${AGENT_API_PREFIX}/jobs/${jobB.jobId}/logs`, b, { claimId: 'cl_steadyb1', chunks: [{ seq: ++logSeq, at: at(), step: 0, stream: 'stdout', data: `building ${logSeq}\n` }] });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect((await event({ type: 'step', step: { index: 0, name: 'build' }, status: 'succeeded', exitCode: 0 })).status).toBe(200);
    expect((await event({ type: 'state', state: 'succeeded' })).status).toBe(200);
  };

  const background = [...Array.from({ length: 4 }, floodWorker), ...Array.from({ length: 10 }, reader), prober()];
  try {
    await steady();
  } finally {
    running = false;
    await Promise.all(background);
  }

  const viewB = leaseRefused ? (await world.viewDeployment(jobB.deploymentId))! : await world.waitForDeployment(jobB.deploymentId, 10_000);
  const store = await openStore({ dataDir: world.dataDir });
  const recordA = (await store.get<JobRecord>(keys.job(jobA.jobId)))!;
  const entriesA = (await store.list(keys.logPrefix(jobA.jobId))).length;
  await store.close();

  const ms = (n: number) => `${Math.round(n)} ms`;
  console.log(
    [
      `flood: ${flood.requests} requests from A, ${flood.refused} answered 429, ${flood.acked} chunks acknowledged, ${flood.errors} failed; A's job keeps ${entriesA} log entries, ${recordA.logBytes} bytes`,
      `A's page: ${pageMs.length} loads, p50 ${ms(percentile(pageMs, 50))}, p99 ${ms(percentile(pageMs, 99))}, max ${ms(Math.max(...pageMs))}`,
      `/healthz: ${healthMs.length} probes, p50 ${ms(percentile(healthMs, 50))}, max ${ms(Math.max(...healthMs))}`,
      `B's lease renewals: ${renewMs.length}, max ${ms(Math.max(...renewMs))}${leaseRefused ? `, then refused: ${leaseRefused}` : ''}; B's job: ${viewB.jobs[0]?.state}${viewB.jobs[0]?.message ? ` (${viewB.jobs[0].message})` : ''}`,
    ].join('\n'),
  );

  expect(leaseRefused).toBeUndefined();
  expect(viewB.jobs[0]).toMatchObject({ state: 'succeeded' });
  expect(viewB.deployment.state).toBe('success');
  expect(flood.refused).toBeGreaterThan(0);
  expect(flood.errors).toBe(0);
  expect([...pageStatuses]).toEqual([200]);
  expect(entriesA).toBeLessThanOrEqual(MAX_LOG_ENTRIES);
  expect(entriesA).toBe(recordA.logLastEntry! - recordA.logFirstEntry! + 1);
  // Generous bounds for a shared, busy two-core machine (ten readers without pause keep the hub saturated on
  // purpose); the figures above are what to watch. Before the fix: page p50 1.7 s, max 5.6 s, /healthz max 4.7 s.
  expect(percentile(pageMs, 50)).toBeLessThan(1000);
  expect(Math.max(...pageMs)).toBeLessThan(3000);
  // (Under the whole suite on two cores a probe was seen at 2.1 s; the unfixed hub's was 4.7 s.)
  expect(Math.max(...healthMs)).toBeLessThan(3000);
  expect(Math.max(...renewMs)).toBeLessThan(3000);
}, 90_000);
