/**
 * The status pages over real HTTP on loopback: what a person sees per deployment and per server, every
 * user-controlled string escaped, 404 for an unknown id.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../app/audit/audit-log.js';
import type { EnvironmentLock } from '../../app/rollout/environment-locks.js';
import type { ConfigStatus } from '../../app/config/config-repo.js';
import { deploymentPageRoutes } from '../../app/pages/deployment-page-routes.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { DEPLOY, SHA, openEngineFixture, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';
import { serveRoutes, type ServedRoutes } from '../helpers/serve-routes.js';

let f: EngineFixture;
let engine: RolloutEngine;
let served: ServedRoutes;
let base: string;
let config: ConfigStatus[];
let locks: EnvironmentLock[];
let actions: AuditEntry[];

beforeEach(async () => {
  f = await openEngineFixture();
  f.strategy = 'one-at-a-time';
  engine = f.engine();
  config = [];
  locks = [];
  actions = [];
  served = await serveRoutes([deploymentPageRoutes({ store: f.store, engine, configStatus: () => config, safety: { locks: async () => locks, recentActions: async () => actions } })]);
  base = served.base;
});
afterEach(async () => {
  await served.close();
  await f.close();
});

async function get(path: string): Promise<{ status: number; html: string; type: string }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, html: await res.text(), type: res.headers.get('content-type') ?? '' };
}

describe('GET /deployments/:id', () => {
  it('shows the deployment and, per server, state, step, message and log tail, escaping everything', async () => {
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2 <b>');
    const dep = await engine.createDeployment(DEPLOY, 'test');
    const job = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', job.id, 'cl_1');
    await engine.appendEvents('ag_a', job.id, 'cl_1', [
      stateEvent(1, 'running'),
      { seq: 2, at: '2026-11-25T10:00:02.000Z', type: 'step', step: { index: 0, name: 'npm <ci>' }, status: 'started' },
    ]);
    await engine.appendLogs('ag_a', job.id, 'cl_1', [{ seq: 1, at: '2026-11-25T10:00:03.000Z', stream: 'stdout', data: '<script>alert(1)</script>\nbuilt "ok" & done\n' }]);

    const { status, html, type } = await get(`/deployments/${dep.id}`);
    expect(status).toBe(200);
    expect(type).toMatch(/text\/html/);
    expect(html).toContain('acme/shop → staging');
    expect(html).toContain(`<code title="${SHA}">${SHA.slice(0, 7)}</code> (main)`);
    expect(html).toContain('class="state in_progress">in_progress');
    expect(html).toContain('0/2 servers · batch 1/2');
    expect(html).toContain('web · one-at-a-time — batch 1: 1 server · batch 2: 1 server');
    expect(html).toMatch(/web-1 <span class="state running">running<\/span>/);
    expect(html).toContain('step 1 <code>npm &lt;ci&gt;</code>: started');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;\nbuilt &quot;ok&quot; &amp; done');
    expect(html).not.toContain('<script>alert');
    // Without JavaScript the page reloads itself; with it, the live stream replaces the reloads.
    expect(html).toContain(`<noscript><meta http-equiv="refresh" content="2; url=/deployments/${dep.id}"></noscript>`);
    expect(html).toMatch(new RegExp(`data-stream="/deployments/${dep.id}/live\\?since=[\\w-]{16}"`));
    expect(html).toContain('<a href="https://staging.shop.test/">https://staging.shop.test</a>');
  });

  it('shows why a server failed, and stops refreshing once the deployment is final', async () => {
    await f.addAgent('ag_a', '<img src=x onerror=alert(1)>');
    const dep = await engine.createDeployment(DEPLOY, 'test');
    await f.agentRuns(engine, 'ag_a', 'failed', 'step <migrate> exited 1');
    const { html } = await get(`/deployments/${dep.id}`);
    expect(html).toContain('class="state failure">failure');
    expect(html).toContain('<p>step &lt;migrate&gt; exited 1</p>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
    expect(html).toContain('(no output yet)');
    expect(html).not.toContain('http-equiv="refresh"');
  });

  it('shows counts and failures first, then 50 servers a page with next-page and state links, logs a click away', async () => {
    f.strategy = 'all-at-once';
    const name = (i: number) => `web-${String(i).padStart(3, '0')}`;
    for (let i = 0; i < 120; i++) await f.addAgent(`ag_${i}`, name(i));
    const dep = await engine.createDeployment(DEPLOY, 'test');
    // web-000 and web-001 fail (the first with a log), web-002 runs now, the rest wait.
    const job = (await engine.nextJob('ag_0'))!;
    await engine.claimJob('ag_0', job.id, 'cl_0');
    await engine.appendEvents('ag_0', job.id, 'cl_0', [stateEvent(1, 'running')]);
    await engine.appendLogs('ag_0', job.id, 'cl_0', [{ seq: 1, at: '2026-11-25T10:00:03.000Z', stream: 'stderr', data: 'cannot reach <db>\n' }]);
    await engine.appendEvents('ag_0', job.id, 'cl_0', [stateEvent(2, 'failed', 'step migrate exited 1')]);
    await f.agentRuns(engine, 'ag_1', 'failed', 'step build exited 2');
    const running = (await engine.nextJob('ag_2'))!;
    await engine.claimJob('ag_2', running.id, 'cl_2');
    await engine.appendEvents('ag_2', running.id, 'cl_2', [stateEvent(1, 'running')]);
    await engine.appendLogs('ag_2', running.id, 'cl_2', [{ seq: 1, at: '2026-11-25T10:00:03.000Z', stream: 'stdout', data: 'compiling\n' }]);

    const first = (await get(`/deployments/${dep.id}`)).html;
    expect(first).toContain('120 servers planned · <strong>all</strong> · <a class="state pending" href="/deployments/' + dep.id + '?state=pending">pending 117</a>');
    expect(first).toContain(`<a class="state failed" href="/deployments/${dep.id}?state=failed">failed 2</a>`);
    // Failures come before the servers, with why and their log tail inline.
    const failures = first.slice(first.indexOf('<h2>Failures</h2>'), first.indexOf('<h2>Servers'));
    expect(failures).toMatch(/web-000 <span class="state failed">failed<\/span>/);
    expect(failures).toContain('<p>step migrate exited 1</p>');
    expect(failures).toContain('<pre>cannot reach &lt;db&gt;</pre>');
    expect(failures).toContain('<p>step build exited 2</p>');
    // 50 servers a page; the running one shows its live tail, a waiting one only a link to its page.
    const servers = first.slice(first.indexOf('<h2>Servers'));
    expect(servers.match(/<section>/g)).toHaveLength(50);
    expect(servers).toContain('<pre>compiling</pre>');
    expect(servers).toContain(`<a href="/deployments/${dep.id}/servers/${(await engine.getDeploymentView(dep.id))!.jobs[3]!.id}">log</a>`);
    expect(servers).toContain('web-049 <span');
    expect(servers).not.toContain('web-050 <span');
    expect(servers).toContain(`<a rel="next" href="/deployments/${dep.id}?after=49">next 50 servers</a>`);
    // The page refreshes to itself, keeping its place.
    expect((await get(`/deployments/${dep.id}?after=49`)).html).toContain(`content="2; url=/deployments/${dep.id}?after=49"`);

    const names = async (path: string) => [...(await get(path)).html.slice((await get(path)).html.indexOf('<h2>Servers')).matchAll(/<h3>(web-\d+) /g)].map((m) => m[1]);
    const second = await names(`/deployments/${dep.id}?after=49`);
    expect(second).toEqual(Array.from({ length: 50 }, (_, i) => name(50 + i)));
    const thirdHtml = (await get(`/deployments/${dep.id}?after=99`)).html;
    expect(await names(`/deployments/${dep.id}?after=99`)).toEqual(Array.from({ length: 20 }, (_, i) => name(100 + i)));
    expect(thirdHtml).not.toContain('rel="next"');
    expect(thirdHtml).toContain(`<a href="/deployments/${dep.id}">first page</a>`);
    expect(await names(`/deployments/${dep.id}?state=failed`)).toEqual(['web-000', 'web-001']);
    expect(await names(`/deployments/${dep.id}?state=running`)).toEqual(['web-002']);
    expect((await get(`/deployments/${dep.id}?state=cancelled`)).html).toContain('<p>No server here is cancelled.</p>');

    // A server's own page: its events and a longer log tail.
    const page = await get(`/deployments/${dep.id}/servers/${job.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('web-000 <span class="state failed">failed</span>');
    expect(page.html).toContain('failed: step migrate exited 1</li>');
    expect(page.html).toContain('<pre id="log" tabindex="0">cannot reach &lt;db&gt;</pre>');
    expect(page.html).not.toContain('http-equiv="refresh"');
    const missing = await get(`/deployments/${dep.id}/servers/job_%3Cx%3E`);
    expect(missing.status).toBe(404);
    expect(missing.html).toContain(`Deployment ${dep.id} has no server job job_&lt;x&gt;`);
  });

  it('answers 404 with a page for an unknown id, escaping the id', async () => {
    const { status, html } = await get('/deployments/%3Cscript%3Ex');
    expect(status).toBe(404);
    expect(html).toContain('No deployment &lt;script&gt;x');
    expect(html).not.toContain('<script>');
  });
});

describe('GET /deployments', () => {
  it('lists recent deployments, agents online or lost with their labels, and the config in force', async () => {
    await f.addAgent('ag_a', 'web-1', { role: 'web', region: 'eu<1>' });
    await f.addAgent('ag_b', 'web-2', { role: 'web' }, f.now - 600_000);
    const dep = await engine.createDeployment(DEPLOY, 'test');
    config = [{ source: 'https://git.test/cfg.git', sha: 'c'.repeat(40), loadedAt: '2026-11-25T09:59:00.000Z' }];
    const { status, html } = await get('/deployments');
    expect(status).toBe(200);
    expect(html).toContain(`<a href="/deployments/${dep.id}">${dep.id}</a>`);
    expect(html).toContain('<code>ccccccc</code> in force since 2026-11-25T09:59:00.000Z');
    expect(html).toMatch(/web-1<\/td><td class="state succeeded">online/);
    expect(html).toMatch(/web-2<\/td><td class="state failed">lost/);
    expect(html).toContain('<code>region=eu&lt;1&gt;</code>');
  });

  it('shows locks in force and recent actions, a held-back auto-deploy among them', async () => {
    expect((await get('/deployments')).html).toContain('<p>No environment is locked.</p>');
    locks = [{ repository: 'acme/shop', environment: 'production', by: 'octocat', reason: 'db <migration>', at: '2026-11-25T10:00:00.000Z' }];
    actions = [
      { at: '2026-11-25T10:00:00.000Z', actor: 'octocat', action: 'lock', repository: 'acme/shop', environment: 'production', outcome: 'locked' },
      { at: '2026-11-25T10:05:00.000Z', actor: 'auto', action: 'auto-deploy', repository: 'acme/shop', environment: 'production', sha: 'f'.repeat(40), outcome: 'skipped', detail: 'locked' },
    ];
    const { html } = await get('/deployments');
    expect(html).toContain('<li>acme/shop: `production` is locked by @octocat since 2026-11-25 10:00 UTC: db &lt;migration&gt;</li>');
    // Newest first.
    expect(html.indexOf('auto-deploy')).toBeLessThan(html.indexOf('>lock<'));
    expect(html).toContain('<td><code>fffffff</code></td>\n<td>skipped</td><td>locked</td>');
  });

  it('says when no config repo is set', async () => {
    expect((await get('/deployments')).html).toContain('No config repo yet: set BITENVOY_CONFIG_REPO, or in GitHub mode install the App');
  });

  it('shows every config repo in GitHub mode, with a rejected commit and why', async () => {
    config = [
      { source: 'acme/.bitenvoy', owner: 'acme', branch: 'main', sha: 'a'.repeat(40), loadedAt: '2026-11-25T09:59:00.000Z', rejected: { sha: 'b'.repeat(40), errors: [{ file: 'groups.yml', path: 'groups.web', line: 3, message: 'unknown key <selectr>' }] } },
      { source: 'other/.bitenvoy', owner: 'other', lastError: 'the config repo other/.bitenvoy does not exist' },
    ];
    const { html } = await get('/deployments');
    expect(html).toContain('Config repo <code>acme/.bitenvoy</code> (main): <code>aaaaaaa</code> in force since 2026-11-25T09:59:00.000Z; newer commit <code>bbbbbbb</code> rejected: groups.yml:3 unknown key &lt;selectr&gt;');
    expect(html).toContain('Config repo <code>other/.bitenvoy</code>: no valid commit loaded yet; last fetch failed: the config repo other/.bitenvoy does not exist');
  });
});
