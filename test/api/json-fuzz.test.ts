/**
 * No JSON makes a route answer 500: every JSON route of a real hub gets valid bodies with one field replaced by an
 * odd value (huge, negative, empty, nested, `__proto__`, very long strings, NaN-ish numbers), and odd bodies whole.
 * Seeded, so a failure names a body that can be sent again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

const AT = '2025-01-31T12:00:00.000Z';
const SEED = 20261205;
let t: TestHub;
let agent: { agentId: string; credential: string };
let jobId: string;

beforeAll(async () => {
  t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '1' });
  agent = await t.enroll('web-1');
  const dep = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
  expect(dep.status).toBe(201);
  jobId = (await t.call('GET', '/api/agent/v1/jobs/next?wait=5', { token: agent.credential })).json.job.id;
  expect((await t.call('POST', `/api/agent/v1/jobs/${jobId}/claim`, { token: agent.credential, body: { claimId: 'cl_fuzz0001' } })).status).toBe(200);
});
afterAll(async () => t?.close());

/** mulberry32: a small seeded generator. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_TEXT = ['1e400', '-1e400', '1e308', '-0', '9007199254740993', '0.1', '"\\u0000"', '"__proto__"', '"../../etc/passwd"', '"<script>"', `"${'x'.repeat(70_000)}"`, '""', 'null', 'true', '{}', '[]', `{"__proto__":{"admin":true}}`, '{"constructor":{"prototype":{}}}', `${'['.repeat(60)}${']'.repeat(60)}`, `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`, `[${Array(5000).fill('1').join(',')}]`];

function oddValue(next: () => number): string {
  return ODD_TEXT[Math.floor(next() * ODD_TEXT.length)]!;
}

/** A valid body's JSON with the value at one of its paths replaced by an odd one (as text, so 1e400 stays 1e400). */
function mutate(body: unknown, next: () => number): string {
  const paths: string[][] = [];
  const walk = (v: unknown, path: string[]) => {
    paths.push(path);
    if (v && typeof v === 'object') for (const [k, child] of Object.entries(v)) walk(child, [...path, k]);
  };
  walk(body, []);
  const path = paths[Math.floor(next() * paths.length)]!;
  const marker = JSON.stringify('\u0001odd\u0001');
  const clone = structuredClone(body) as Record<string, unknown>;
  if (path.length === 0) return oddValue(next);
  let at: Record<string, unknown> = clone;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[path.at(-1)!] = '\u0001odd\u0001';
  return JSON.stringify(clone).replace(marker, oddValue(next));
}

const ROUTES: Array<{ path: () => string; token: () => string | undefined; body: () => unknown }> = [
  { path: () => '/api/agent/v1/enroll', token: () => undefined, body: () => ({ token: 'bte_x', name: 'web-9', labels: { role: 'web' }, version: '1' }) },
  { path: () => `/api/agent/v1/jobs/${jobId}/claim`, token: () => agent.credential, body: () => ({ claimId: 'cl_fuzz0001' }) },
  { path: () => `/api/agent/v1/jobs/${jobId}/lease`, token: () => agent.credential, body: () => ({ claimId: 'cl_fuzz0001' }) },
  {
    path: () => `/api/agent/v1/jobs/${jobId}/events`,
    token: () => agent.credential,
    body: () => ({ claimId: 'cl_fuzz0001', events: [{ seq: 1, at: AT, type: 'step', step: { index: 0, name: 'build' }, status: 'started', exitCode: null, durationMs: 1 }] }),
  },
  { path: () => `/api/agent/v1/jobs/${jobId}/logs`, token: () => agent.credential, body: () => ({ claimId: 'cl_fuzz0001', chunks: [{ seq: 1, at: AT, step: 0, stream: 'stdout', data: 'hello\n' }] }) },
  { path: () => '/api/agent/v1/cloud/nonce', token: () => agent.credential, body: () => ({ provider: 'aws' }) },
  { path: () => '/api/agent/v1/cloud/attest', token: () => agent.credential, body: () => ({ evidence: { provider: 'azure', attested: { encoding: 'pkcs7', signature: 'abc' }, nonce: 'n' } }) },
  { path: () => '/api/v1/deployments', token: () => ADMIN_TOKEN, body: () => ({ repository: 'demo/shop', ref: 'main', environment: 'nowhere' }) },
  { path: () => '/api/v1/enrollment-tokens', token: () => ADMIN_TOKEN, body: () => ({ ttlSeconds: 600 }) },
];

it('answers no JSON body on any JSON route with a 5xx', async () => {
  const next = random(SEED);
  const failures: string[] = [];
  const statuses = new Set<number>();
  for (const route of ROUTES) {
    for (let i = 0; i < 60; i++) {
      const raw = i < ODD_TEXT.length ? ODD_TEXT[i]! : mutate(route.body(), next);
      const token = route.token();
      const res = await t.call('POST', route.path(), { raw, ...(token ? { token } : {}) });
      statuses.add(res.status);
      if (res.status >= 500 || (res.status >= 400 && typeof res.json?.error?.code !== 'string')) failures.push(`${route.path()} ${res.status} ${JSON.stringify(res.json).slice(0, 200)} ← ${raw.slice(0, 200)}`);
    }
  }
  expect(failures).toEqual([]);
  // The odd values got past the schemas now and then, into the routes' own code.
  expect([...statuses].filter((s) => s < 300).length).toBeGreaterThan(0);
  expect(statuses).toContain(400);
  expect((await t.call('GET', '/healthz')).status).toBe(200);
}, 120_000);
