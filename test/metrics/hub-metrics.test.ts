/**
 * The hub's Prometheus metrics on a real hub (SQLite file, config repo over git HTTP) driven through its HTTP APIs:
 * what a scrape says after an agent enrolls, holds a poll, takes a job and reports it done — and who may read it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubMetrics } from '../../app/metrics/hub-metrics.js';
import { openStore } from '../../app/store/open-store.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

/** `name{labels} value` lines of a scrape, as a map from `name{labels}` to the value. */
function parse(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

describe('metrics on the hub port', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '5' });
  });
  afterAll(async () => t?.close());

  async function scrape(): Promise<Map<string, number>> {
    const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  }

  it('asks for the admin token, saying how to send it', async () => {
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Authorization: Bearer <BITENVOY_ADMIN_TOKEN>/);
  });

  it('counts agents, held polls, claims with their wait, and ended deployments by state and trigger', async () => {
    const before = await scrape();
    expect(before.get('bitenvoy_agents{status="enrolled"}')).toBe(0);
    expect(before.get('bitenvoy_long_polls_held')).toBe(0);
    expect(before.has('process_resident_memory_bytes')).toBe(true);

    const agent = await t.enroll('metrics-1');
    const poll = t.call('GET', '/api/agent/v1/jobs/next?wait=5', { token: agent.credential });
    await new Promise((r) => setTimeout(r, 200));
    const holding = await scrape();
    expect(holding.get('bitenvoy_agents{status="enrolled"}')).toBe(1);
    expect(holding.get('bitenvoy_agents{status="online"}')).toBe(1);
    expect(holding.get('bitenvoy_long_polls_held')).toBe(1);

    const created = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
    expect(created.status).toBe(201);
    const job = (await poll).json.job as { id: string };
    const running = await scrape();
    expect(running.get('bitenvoy_long_polls_held')).toBe(0);
    expect(running.get('bitenvoy_deployments_active')).toBe(1);
    expect(running.get('bitenvoy_jobs{state="pending"}')).toBe(1);

    expect((await t.call('POST', `/api/agent/v1/jobs/${job.id}/claim`, { token: agent.credential, body: { claimId: 'cl_metrics1' } })).status).toBe(200);
    const at = new Date().toISOString();
    const events = [
      { seq: 1, at, type: 'state', state: 'running' },
      { seq: 2, at, type: 'state', state: 'succeeded' },
    ];
    expect((await t.call('POST', `/api/agent/v1/jobs/${job.id}/events`, { token: agent.credential, body: { claimId: 'cl_metrics1', events } })).status).toBe(200);
    const id = created.json.deployment.id as string;
    for (let i = 0; i < 100 && (await t.call('GET', `/api/v1/deployments/${id}`, { token: ADMIN_TOKEN })).json.deployment.state !== 'success'; i++) await new Promise((r) => setTimeout(r, 50));

    const after = await scrape();
    expect(after.get('bitenvoy_deployments_total{state="success",trigger="api"}')).toBe(1);
    expect(after.get('bitenvoy_rollout_duration_seconds_count{state="success"}')).toBe(1);
    expect(after.get('bitenvoy_jobs_claimed_total')).toBe(1);
    expect(after.get('bitenvoy_dispatch_latency_seconds_count')).toBe(1);
    expect(after.get('bitenvoy_deployments_active')).toBe(0);
    expect(after.has('bitenvoy_jobs{state="pending"}')).toBe(false);
    expect(after.get('bitenvoy_github_outbox_depth{kind="effect"}')).toBe(0);
    // Every store statement and write transaction of the hub is timed.
    expect(after.get('bitenvoy_store_query_duration_seconds_count{operation="read"}')).toBeGreaterThan(before.get('bitenvoy_store_query_duration_seconds_count{operation="read"}') ?? 0);
    expect(after.get('bitenvoy_store_query_duration_seconds_count{operation="transaction"}')).toBeGreaterThan(0);
    // A final state seen again (a later change of the same deployment) is not counted twice.
    t.hub.metrics.deploymentChanged((await t.call('GET', `/api/v1/deployments/${id}`, { token: ADMIN_TOKEN })).json.deployment);
    expect((await scrape()).get('bitenvoy_deployments_total{state="success",trigger="api"}')).toBe(1);
  });
});

describe('metrics on a port of their own', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub({ BITENVOY_METRICS_PORT: '0', BITENVOY_METRICS_HOST: '127.0.0.1' });
  });
  afterAll(async () => t?.close());

  it('answers /metrics there without a token, nothing else there, and not on the hub port', async () => {
    const url = t.hub.metricsUrl!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^bitenvoy_agents\{status="enrolled"\} 0$/m);
    const other = await fetch(url.replace('/metrics', '/api/v1/deployments'));
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { message: string } }).error.message).toMatch(/metrics port/);
    expect((await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);
  });
});

describe('metrics while the store does not answer', () => {
  it('still answers, with what the process knows, bitenvoy_store_up 0, and without the gauges read from the store', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'bitenvoy-metrics-'));
    const store = await openStore({ dataDir });
    try {
      const metrics = new HubMetrics({ store, lostAfterMs: 180_000, processMetrics: false });
      metrics.leaderChanged(true);
      const up = parse(await metrics.render());
      expect([up.get('bitenvoy_store_up'), up.get('bitenvoy_agents{status="enrolled"}'), up.get('bitenvoy_leader')]).toEqual([1, 0, 1]);
      // A closed store refuses every statement, as a PostgreSQL whose connection was cut does.
      await store.close();
      const down = parse(await metrics.render());
      expect([down.get('bitenvoy_store_up'), down.get('bitenvoy_leader'), down.get('bitenvoy_long_polls_held')]).toEqual([0, 1, 0]);
      expect([...down.keys()].filter((name) => /^bitenvoy_(agents|deployments_active|jobs|github_outbox)\b/.test(name))).toEqual([]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the Grafana dashboard in templates/', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub();
  });
  afterAll(async () => t?.close());

  it('queries only metrics the hub exports', async () => {
    const dashboard = JSON.parse(await readFile(new URL('../../templates/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const exported = new Set([...(await t.hub.metrics.registry.getMetricsAsJSON()), ...(await t.hub.metrics.storeRegistry.getMetricsAsJSON())].map((m) => m.name));
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets) for (const [name] of expr.matchAll(/\b(?:bitenvoy|process|nodejs)_[a-z0-9_]+/g)) used.add(name.replace(/_(bucket|count|sum)$/, ''));
    }
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    // Every metric of the hub's own is on the dashboard.
    expect([...exported].filter((name) => name.startsWith('bitenvoy_') && !used.has(name))).toEqual([]);
  });
});
