/**
 * The deployment page's live parts over real HTTP on loopback, on a real SQLite store: the timeline of batches and
 * gates, steps with start times and durations, log search and download, markup in step names and log lines shown
 * as text, and the Server-Sent Events streams — a change arrives without a reload, a reconnect with Last-Event-ID
 * resumes where it left off, a silent agent shows, and the stream ends with the deployment.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deploymentPageRoutes } from '../../app/pages/deployment-page-routes.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { DEPLOY, openEngineFixture, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';
import { serveRoutes, type ServedRoutes } from '../helpers/serve-routes.js';

let f: EngineFixture;
let engine: RolloutEngine;
let served: ServedRoutes;
let base: string;

beforeEach(async () => {
  f = await openEngineFixture();
  engine = f.engine();
  const router = deploymentPageRoutes({
    store: f.store,
    engine,
    configStatus: () => [],
    clock: { now: () => f.now, leaseMs: 60_000 },
    live: { timings: { minGapMs: 10, recheckMs: 100, logPollMs: 50 }, limits: { keepaliveMs: 60_000 } },
  });
  served = await serveRoutes([router]);
  base = served.base;
});
afterEach(async () => {
  await served.close();
  await f.close();
});

async function get(path: string): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, html: await res.text(), headers: res.headers };
}

interface SseEvent {
  event: string;
  id?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test reads the fields it asserts
  data: any;
}

/** An event stream read event by event; `next` fails after `ms` without one. */
async function openEvents(path: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(`${base}${path}`, { headers, signal: abort.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ended = false;
  // A read outlives a timed-out wait: the next wait takes its chunk instead of losing it.
  let pending: ReturnType<typeof reader.read> | undefined;
  const next = async (ms = 3000): Promise<SseEvent | undefined> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const at = buffer.indexOf('\n\n');
      if (at >= 0) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const fields = new Map(block.split('\n').filter((l) => l && !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)] as const));
        if (!fields.has('event')) continue; // `retry:` and comments
        return { event: fields.get('event')!, ...(fields.has('id') ? { id: fields.get('id')! } : {}), data: JSON.parse(fields.get('data') ?? 'null') };
      }
      if (ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${ms} ms`);
      pending ??= reader.read();
      const chunk = await Promise.race([pending, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), left))]);
      if (chunk === 'timeout') throw new Error(`no event within ${ms} ms`);
      pending = undefined;
      if (chunk.done) ended = true;
      else buffer += chunk.value;
    }
  };
  /** True when nothing but comments arrives for `ms`. */
  const quietFor = async (ms: number) => {
    try {
      await next(ms);
      return false;
    } catch {
      return true;
    }
  };
  return { next, quietFor, close: () => abort.abort() };
}

describe('the deployment page', () => {
  it('shows a timeline of batches and the gate the rollout is held at', async () => {
    f.strategies = { bird: { type: 'canary', canary: { size: 1, pause: 'manual' } } };
    f.strategy = 'bird';
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const dep = await engine.createDeployment(DEPLOY, 'test');
    await f.agentRuns(engine, 'ag_a');
    const { html } = await get(`/deployments/${dep.id}`);
    const timeline = html.slice(html.indexOf('<h2>Timeline</h2>'), html.indexOf('</ol>'));
    expect(timeline).toContain('<li class="batch done"><strong>Batch 1</strong> · 1 server · done · succeeded 1</li>');
    expect(timeline).toContain('<li class="gate held">Gate: waits for someone to continue · held now, since 10:00:00 UTC</li>');
    expect(timeline).toContain('<li class="batch ahead"><strong>Batch 2</strong> · 1 server · ahead</li>');
    expect(html).toContain('<tr><th scope="row">instruction file</th><td><code>deploy/bitenvoy.yml</code></td></tr>');
    expect(html).toContain('<tr><th scope="row">config commit</th><td><code title="' + 'c'.repeat(40) + '">ccccccc</code></td></tr>');

    await engine.continueDeployment(dep.id, 'test');
    const after = (await get(`/deployments/${dep.id}`)).html;
    expect(after).toContain('<li class="gate">Gate: waits for someone to continue · passed</li>');
    expect(after).toMatch(/<li class="batch (running|ahead)"><strong>Batch 2<\/strong>/);
  });

  it('links the commit, its pull requests and the GitHub deployment when it came from GitHub', async () => {
    await f.addAgent('ag_a', 'web-1');
    const dep = await engine.createDeployment(DEPLOY, 'test', {
      github: { installationId: 1, owner: 'acme', repo: 'shop', deploymentId: 77, cloneUrl: 'https://github.example.com/acme/shop.git' },
    });
    const { html } = await get(`/deployments/${dep.id}`);
    expect(html).toContain(`<a href="https://github.example.com/acme/shop/commit/${dep.sha}"><code title="${dep.sha}">${dep.sha.slice(0, 7)}</code></a>`);
    expect(html).toContain(`<a href="https://github.example.com/acme/shop/pulls?q=is%3Apr%20${dep.sha}">pull requests with this commit</a>`);
    expect(html).toContain('<a href="https://github.example.com/acme/shop/deployments/staging">#77</a> in acme/shop');
    expect(html).toContain(`(<a href="https://github.example.com/acme/shop/blob/${dep.sha}/deploy/bitenvoy.yml">at this commit</a>)`);
  });
});

describe("a server's page", () => {
  async function runningJob(name = 'web-1') {
    await f.addAgent('ag_a', name);
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'running')]);
    return { dep, job };
  }

  it('shows each step with its start time and duration, markup in names and messages as text', async () => {
    const { dep, job } = await runningJob('web-1 <b>');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [
      { seq: 2, at: '2026-11-25T10:00:02.000Z', type: 'step', step: { index: 0, name: 'npm <ci>' }, status: 'started' },
      { seq: 3, at: '2026-11-25T10:00:10.500Z', type: 'step', step: { index: 0, name: 'npm <ci>' }, status: 'succeeded', exitCode: 0 },
      { seq: 4, at: '2026-11-25T10:00:10.600Z', type: 'step', step: { index: 1, name: '<img src=x onerror=alert(1)>' }, status: 'started' },
      // The agent's own measure wins over the time between the events (which includes reporting delays).
      { seq: 5, at: '2026-11-25T10:03:20.600Z', type: 'step', step: { index: 1, name: '<img src=x onerror=alert(1)>' }, status: 'failed', exitCode: 3, durationMs: 185_000, message: 'exit <3>' },
    ]);
    const { html } = await get(`/deployments/${dep.id}/servers/${job.id}`);
    const steps = html.slice(html.indexOf('<h2>Steps</h2>'), html.indexOf('<h2>Log</h2>'));
    expect(steps).toContain('<th scope="row">1</th><td><code>npm &lt;ci&gt;</code></td><td class="state succeeded">succeeded</td>\n<td>10:00:02 UTC</td><td>8.5 s</td><td>0</td>');
    expect(steps).toContain('<th scope="row">2</th><td><code>&lt;img src=x onerror=alert(1)&gt;</code></td><td class="state failed">failed</td>\n<td>10:00:10 UTC</td><td>3 min 05 s</td><td>3 exit &lt;3&gt;</td>');
    expect(html).toContain('web-1 &lt;b&gt; <span class="state running">running</span>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
  });

  it('searches the whole kept log on the server, bounded, and shows markup in lines as text', async () => {
    const { dep, job } = await runningJob();
    const lines = Array.from({ length: 260 }, (_, i) => (i % 1 === 0 ? `line ${i + 1} <needle> at https://user:s3cret@git.test/x` : ''));
    // Many small chunks of two streams, so the log spans many entries.
    for (let i = 0; i < lines.length; i += 20) {
      await engine.appendLogs('ag_a', job.id, 'cl_1', [{ seq: i / 20 + 1, at: '2026-11-25T10:00:03.000Z', stream: i % 40 ? 'stderr' : 'stdout', data: lines.slice(i, i + 20).join('\n') + '\n' }]);
    }
    await engine.appendLogs('ag_a', job.id, 'cl_1', [{ seq: 14, at: '2026-11-25T10:00:04.000Z', stream: 'stdout', data: 'the end\n' }]);
    const path = `/deployments/${dep.id}/servers/${job.id}`;
    const found = (await get(`${path}?q=${encodeURIComponent('<NEEDLE>')}`)).html;
    expect(found).toContain('<h3>260 lines contain “&lt;NEEDLE&gt;” (the first 200 shown)</h3>');
    expect(found).toContain('<tr><td>1</td><td><code>line 1 &lt;needle&gt; at https://***@git.test/x</code></td></tr>');
    expect(found).toContain('<tr><td>200</td><td><code>line 200 &lt;needle&gt;');
    expect(found).not.toContain('<tr><td>201</td>');
    expect(found).toContain('value="&lt;NEEDLE&gt;"');
    expect(found).not.toContain('s3cret');
    expect((await get(`${path}?q=the%20end`)).html).toContain('<tr><td>261</td><td><code>the end</code></td></tr>');
    expect((await get(`${path}?q=absent`)).html).toContain('No line of the kept log contains “absent”.');

    // The download: everything kept, as a text file, credentials out.
    const res = await fetch(`${base}${path}/log`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${dep.id}-web-1-${job.id}.log"`);
    const text = await res.text();
    expect(text.split('\n')).toHaveLength(262);
    expect(text.startsWith('line 1 <needle> at https://***@git.test/x\n')).toBe(true);
    expect(text.endsWith('line 260 <needle> at https://***@git.test/x\nthe end\n')).toBe(true);
    expect((await fetch(`${base}/deployments/${dep.id}/servers/job_nope/log`)).status).toBe(404);
  });
});

describe('the live streams', () => {
  it('sends the page part when it changes, resumes by Last-Event-ID without repeating, and ends with the deployment', async () => {
    await f.addAgent('ag_a', 'web-1');
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const page = (await get(`/deployments/${dep.id}`)).html;
    const since = new RegExp(`<div id="live" data-stream="/deployments/${dep.id}/live\\?since=([\\w-]{16})" data-page="/deployments/${dep.id}" data-actions="\\|\\|">`).exec(page)?.[1];
    expect(since).toBeDefined();
    // The page's own stream sends nothing while what it shows is current.
    const pages = await openEvents(`/deployments/${dep.id}/live?since=${since}`);
    expect(await pages.quietFor(300)).toBe(true);
    pages.close();

    const live = await openEvents(`/deployments/${dep.id}/live`);
    const first = (await live.next())!;
    expect(first.event).toBe('update');
    expect(first.id).toBe(since);
    expect(first.data.html).toContain('web-1 <span class="state pending">pending</span>');
    // The same markup the page has.
    expect(page).toContain(first.data.html);

    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'running')]);
    await engine.appendLogs('ag_a', job.id, 'cl_1', [{ seq: 1, at: '2026-11-25T10:00:03.000Z', stream: 'stdout', data: '<script>alert(1)</script> migrating\n' }]);
    let update = (await live.next())!;
    while (!update.data.html.includes('migrating')) update = (await live.next())!;
    expect(update.data.html).toContain('web-1 <span class="state running">running</span>');
    expect(update.data.html).toContain('<pre>&lt;script&gt;alert(1)&lt;/script&gt; migrating</pre>');
    expect(update.id).not.toBe(first.id);
    live.close();

    // Back with the id of what it shows: nothing is sent again until something changes.
    const resumed = await openEvents(`/deployments/${dep.id}/live`, { 'last-event-id': update.id! });
    expect(await resumed.quietFor(400)).toBe(true);
    await engine.appendEvents('ag_a', job.id, 'cl_1', [{ seq: 2, at: '2026-11-25T10:00:04.000Z', type: 'step', step: { index: 0, name: 'migrate' }, status: 'started' }]);
    const moved = (await resumed.next())!;
    expect(moved.data.html).toContain('step 1 <code>migrate</code>: started');
    resumed.close();
    // Back with an old id: the current view at once.
    const stale = await openEvents(`/deployments/${dep.id}/live`, { 'last-event-id': first.id! });
    expect((await stale.next())!.id).toBe(moved.id);

    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(3, 'succeeded')]);
    let last = (await stale.next())!;
    while (last.event === 'update' && !last.data.final) last = (await stale.next())!;
    expect(last.data).toMatchObject({ final: true, actions: '||final' });
    expect(last.data.html).toContain('class="state success">success');
    expect((await stale.next())!.event).toBe('end');
    expect(await stale.next()).toBeUndefined();
    // A final page has no stream and no reload.
    const done = (await get(`/deployments/${dep.id}`)).html;
    expect(done).not.toContain('data-stream');
    expect(done).not.toContain('http-equiv="refresh"');
  });

  it('shows within one heartbeat that a running server went silent, and a waiting one that was never seen', async () => {
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'running')]);
    const live = await openEvents(`/deployments/${dep.id}/live`);
    expect((await live.next())!.data.html).not.toContain('not heard from');
    // A missed lease renewal (every 20 s) and the write slack later, web-1 has not been heard from; web-2 never took
    // its job. Both show long before a heartbeat (60 s) has passed.
    f.now += 31_000;
    await engine.checkLeases();
    let update = (await live.next())!;
    while (!update.data.html.includes('not seen since')) update = (await live.next())!;
    expect(update.data.html).toContain('<p class="unseen" role="status">agent not heard from since 10:00:00 UTC; the job fails at 10:01:00 UTC unless it is heard from</p>');
    expect(update.data.html).toContain('<td class="unseen" role="status">web-2 not seen since 2026-11-25 10:00:00 UTC (lost after 180 s)</td>');
    live.close();
  });

  it("follows a server's log from a cursor, resumes it by Last-Event-ID, and ends with the job", async () => {
    await f.addAgent('ag_a', 'web-1');
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'running')]);
    await engine.appendLogs('ag_a', job.id, 'cl_1', [{ seq: 1, at: '2026-11-25T10:00:03.000Z', stream: 'stdout', data: 'before the page\n' }]);
    const page = (await get(`/deployments/${dep.id}/servers/${job.id}`)).html;
    const stream = /<pre id="log" tabindex="0" data-stream="([^"]+)"/.exec(page)![1]!.replace(/&amp;/g, '&');
    expect(page).toContain('>before the page\n</pre>');

    const live = await openEvents(stream);
    const facts = (await live.next())!;
    expect(facts).toMatchObject({ event: 'server', data: { state: 'running' } });
    expect(facts.id).toBeUndefined();
    await engine.appendLogs('ag_a', job.id, 'cl_1', [{ seq: 2, at: '2026-11-25T10:00:04.000Z', stream: 'stdout', data: '<b>one</b>\n' }]);
    const one = (await live.next())!;
    expect(one).toMatchObject({ event: 'log', data: { text: '<b>one</b>\n' } });
    expect(one.id).toMatch(/^\d+\.\d+$/);
    live.close();

    await engine.appendLogs('ag_a', job.id, 'cl_1', [{ seq: 3, at: '2026-11-25T10:00:05.000Z', stream: 'stderr', data: 'two\n' }]);
    const again = await openEvents(stream, { 'last-event-id': one.id! });
    expect((await again.next())!.event).toBe('server');
    expect((await again.next())!.data.text).toBe('two\n');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [{ seq: 2, at: '2026-11-25T10:00:06.000Z', type: 'step', step: { index: 0, name: '<i>x</i>' }, status: 'started' }]);
    const step = (await again.next())!;
    expect(step.event).toBe('server');
    expect(step.data.html).toContain('<code>&lt;i&gt;x&lt;/i&gt;</code>');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(3, 'succeeded')]);
    let ev = (await again.next())!;
    while (ev.event === 'server') ev = (await again.next())!;
    expect(ev.event).toBe('end');
    expect(await again.next()).toBeUndefined();
  });

  it('answers 404 for an unknown deployment or job, before any stream starts', async () => {
    expect((await fetch(`${base}/deployments/dep_nope/live`)).status).toBe(404);
    await f.addAgent('ag_a', 'web-1');
    const dep = await engine.createDeployment(DEPLOY, 'test');
    expect((await fetch(`${base}/deployments/${dep.id}/servers/job_nope/live`)).status).toBe(404);
  });
});
