/**
 * The agents and config pages over real HTTP on loopback, on the real engine and SQLite store: `/agents` pages agents
 * by name, says online / lost (three heartbeat intervals, on a moved clock) / quarantined, filters by state and by
 * group; `/agents/:name` shows what the agent runs per application (its releases), its latest jobs and its groups;
 * `/config` shows the commit in force, a rejected commit with its errors, and each group resolved to its agents.
 * Names and labels with markup render as text; an unknown agent is 404.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigStatus } from '../../app/config/config-repo.js';
import { instanceKey, type ProvedIdentity } from '../../app/cloud/cloud-instance.js';
import { bindingKeys } from '../../app/cloud/identity-bindings.js';
import { keys, type AgentRecord } from '../../app/model.js';
import { version as hubVersion } from '../../lib/package-root.js';
import { agentsPageRoutes } from '../../app/pages/agents-page-routes.js';
import { configPageRoutes } from '../../app/pages/config-page-routes.js';
import { DashboardSessions } from '../../app/pages/dashboard-sessions.js';
import { pageAccess } from '../../app/pages/page-access.js';
import { SESSION_COOKIE } from '../../app/pages/session-cookie.js';
import type { RepositoryAccess } from '../../app/auth/repository-access.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { DEPLOY, SHA, configWith, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';
import { serveRoutes, type ServedRoutes } from '../helpers/serve-routes.js';
import type { Middleware } from 'koa';

const MARKUP = '<img src=x onerror=alert(1)>';
const HEARTBEAT = 60;

let f: EngineFixture;
let engine: RolloutEngine;
let served: ServedRoutes;
let base: string;
let statuses: ConfigStatus[];
let sessions: DashboardSessions;
let isPublic: boolean;

beforeEach(async () => {
  f = await openEngineFixture();
  engine = f.engine();
  statuses = [{ source: 'https://git.example/acme/.bitenvoy.git', branch: 'main', sha: 'c'.repeat(40), loadedAt: '2026-11-25T09:00:00.000Z' }];
  const config = () => ({
    ...configWith(f.strategy, {}, { web: { selector: { matchLabels: { role: 'web' } } }, db: { description: 'the <b>databases</b>', selector: { matchLabels: { role: 'db' } } }, eu: { selector: { matchLabels: { 'cloud.region': 'eu-west-1' } } } }),
    sha: 'c'.repeat(40),
  });
  const configs = { inForce: () => [config()], current: () => config(), statuses: () => statuses };
  isPublic = true;
  sessions = new DashboardSessions({ store: f.store, adminToken: 'test-admin-token', publicUrl: () => base });
  const deps = { store: f.store, configs, sessions, heartbeatSeconds: HEARTBEAT, now: () => f.now, cloud: { scopes: () => [], staleAfterMs: 900_000 } };
  // Only deployments' repositories are checked by pageAccess: these pages ask no RepositoryAccess.
  const guard: Middleware = async (ctx, next) => pageAccess({ store: f.store, sessions, access: {} as RepositoryAccess, isPublic })(ctx, next);
  served = await serveRoutes([agentsPageRoutes(deps), configPageRoutes(deps)], { before: [guard] });
  base = served.base;
});
afterEach(async () => {
  await served.close();
  await f.close();
});

async function get(path: string, cookie?: string): Promise<{ status: number; html: string; location: string | null }> {
  const res = await fetch(`${base}${path}`, { redirect: 'manual', ...(cookie ? { headers: { cookie } } : {}) });
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function addAgent(id: string, name: string, labels: Record<string, string> = { role: 'web' }, lastSeen = f.now): Promise<void> {
  await f.addAgent(id, name, labels, lastSeen);
  await f.store.set(keys.agentByName(name), id);
}

const rows = (html: string) => html.match(/<tr><th scope="row"><a href="\/agents\//g)?.length ?? 0;
const nextLink = (html: string) => /<a href="([^"]+)">next 50<\/a>/.exec(html)?.[1]?.replaceAll('&amp;', '&');

describe('GET /agents', () => {
  it('pages agents by name, 50 a page, from the index', async () => {
    for (let i = 0; i < 120; i++) await addAgent(`ag_${i}`, `web-${String(i).padStart(3, '0')}`);
    let page = await get('/agents');
    expect(page.status).toBe(200);
    expect(rows(page.html)).toBe(50);
    expect(page.html).toContain('<a href="/agents/web-000">web-000</a>');
    expect(page.html).toContain('<a href="/agents" aria-current="page">Agents</a>');
    expect(page.html).toContain('<a href="/config">The config in force and its groups</a>');
    page = await get(nextLink(page.html)!);
    expect(rows(page.html)).toBe(50);
    expect(page.html).toContain('<a href="/agents/web-050">web-050</a>');
    expect(page.html).not.toContain('web-049<');
    page = await get(nextLink(page.html)!);
    expect(rows(page.html)).toBe(20);
    expect(page.html).toContain('web-119');
    expect(nextLink(page.html)).toBeUndefined();
  });

  it('says online or lost after three heartbeat intervals (the clock moved), and filters by state', async () => {
    await addAgent('ag_a', 'alpha');
    await addAgent('ag_b', 'bravo', { role: 'web' }, f.now - 3 * HEARTBEAT * 1000 + 1000);
    let page = await get('/agents');
    expect(page.html).toMatch(/alpha<\/a><\/th><td><span class="state online">online/);
    expect(page.html).toMatch(/bravo<\/a><\/th><td><span class="state online">online/);
    f.now += 2000; // bravo is now silent for 3 intervals + 1 s
    page = await get('/agents');
    expect(page.html).toMatch(/alpha<\/a><\/th><td><span class="state online">online/);
    expect(page.html).toMatch(/bravo<\/a><\/th><td><span class="state lost">lost/);
    page = await get('/agents?state=lost');
    expect(page.html).toContain('bravo');
    expect(page.html).not.toContain('alpha');
    page = await get('/agents?state=online');
    expect(page.html).toContain('alpha');
    expect(page.html).not.toContain('bravo');
    page = await get('/agents?state=%3Cx%3E');
    expect(page.status).toBe(400);
    expect(page.html).toContain('State: &quot;&lt;x&gt;&quot; is not a state to filter by: use online or lost');
  });

  it('renders names, labels and versions with markup as text, and shows a quarantined agent', async () => {
    await addAgent('ag_m', `web ${MARKUP}`, { role: 'web', [`k${MARKUP}`]: MARKUP, 'cloud.region': 'self-claimed' });
    const identity: ProvedIdentity = { provider: 'aws', account: '123456789012', instanceId: 'i-0abc' };
    await f.store.set(bindingKeys.instance(instanceKey(identity)), { agentId: 'ag_m', since: '2026-11-25T09:00:00.000Z', token: 't1' });
    await f.store.set(bindingKeys.agent('ag_m'), {
      agentId: 'ag_m', identity, boundAt: '2026-11-25T09:00:00.000Z', attestedAt: '2026-11-25T09:00:00.000Z', claimToken: 't1',
      quarantine: { since: '2026-11-25T09:30:00.000Z', claimed: { ...identity, instanceId: 'i-0def' }, reason: 'proved <b>another</b> instance' },
    });
    const page = await get('/agents');
    expect(page.html).not.toMatch(/<img src=x|<b>another/);
    expect(page.html).toContain(`<a href="/agents/web%20%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E">web &lt;img src=x onerror=alert(1)&gt;</a>`);
    expect(page.html).toContain('<code>k&lt;img src=x onerror=alert(1)&gt;=&lt;img src=x onerror=alert(1)&gt;</code>');
    expect(page.html).toContain('<span class="state quarantined">quarantined</span>');
    // A self-reported cloud.* label is never shown as a fact.
    expect(page.html).not.toContain('self-claimed');
    const one = await get(`/agents/${encodeURIComponent(`web ${MARKUP}`)}`);
    expect(one.status).toBe(200);
    expect(one.html).not.toMatch(/<img src=x|<b>another/);
    expect(one.html).toContain('<h1>Agent web &lt;img src=x onerror=alert(1)&gt;</h1>');
    expect(one.html).toContain('quarantined since 2026-11-25T09:30:00.000Z: proved &lt;b&gt;another&lt;/b&gt; instance');
    // Its cloud facts are unknown (quarantined): a group on cloud.* can neither pick nor rule it out.
    expect(one.html).toMatch(/>eu<\/a><\/th><td><code>cloud.region=eu-west-1<\/code><\/td><td><span class="paused-state">unknown now/);
  });

  it('says an agent older than the hub has an update, on the list and its page; a current one has none', async () => {
    await addAgent('ag_old', 'old-1');
    await addAgent('ag_new', 'new-1');
    const stored = (id: string) => f.store.get<AgentRecord>(keys.agent(id));
    await f.store.set(keys.agent('ag_old'), { ...(await stored('ag_old'))!, version: '0.0.9' });
    await f.store.set(keys.agent('ag_new'), { ...(await stored('ag_new'))!, version: hubVersion });
    const notice = `agent update available: 0.0.9 → ${hubVersion} (bitenvoy agent upgrade)`;
    const list = await get('/agents');
    expect(list.html).toContain(`<td>0.0.9<br><small class="update">${notice}</small></td>`);
    expect(list.html.split('agent update available').length).toBe(2);
    expect((await get('/agents/old-1')).html).toContain(notice);
    expect((await get('/agents/new-1')).html).not.toContain('agent update available');
  });

  it('lists one group’s agents, and refuses an unknown group', async () => {
    for (let i = 0; i < 60; i++) await addAgent(`ag_w${i}`, `w-${String(i).padStart(2, '0')}`);
    await addAgent('ag_d', 'db-1', { role: 'db' });
    let page = await get('/agents?group=db');
    expect(rows(page.html)).toBe(1);
    expect(page.html).toContain('db-1');
    page = await get('/agents?group=web');
    expect(rows(page.html)).toBe(50);
    expect(page.html).not.toContain('db-1');
    page = await get(nextLink(page.html)!);
    expect(rows(page.html)).toBe(10);
    expect(page.html).toContain('w-59');
    page = await get('/agents?group=nope');
    expect(page.status).toBe(404);
    expect(page.html).toContain('No config in force defines a group &quot;nope&quot;');
  });
});

describe('GET /agents/:name', () => {
  it('shows what the agent runs per application (its release, not a later failure), its latest jobs and the groups it is in', async () => {
    await addAgent('ag_a', 'web-1');
    const first = await engine.createDeployment(DEPLOY, 'api');
    const firstJob = await f.agentRuns(engine, 'ag_a');
    f.now += 60_000;
    f.sha = 'b'.repeat(40);
    const second = await engine.createDeployment(DEPLOY, 'api');
    await f.agentRuns(engine, 'ag_a', 'failed', 'step <migrate> exited 1');
    const { status, html } = await get('/agents/web-1');
    expect(status).toBe(200);
    // Per application: its release — the commit of the job that succeeded (the later one failed), linked to that job.
    expect(html).toMatch(
      new RegExp(`<th scope="row">acme/shop</th><td><a href="/environments/acme/shop/staging">staging</a></td><td><code title="${SHA}">${SHA.slice(0, 7)}</code></td><td><a href="/deployments/${first.id}/servers/${firstJob}">${first.id}</a></td>`),
    );
    expect(html).toContain('failed</span></a><br><small>step &lt;migrate&gt; exited 1</small>');
    // Latest jobs, newest first.
    const jobs = html.slice(html.indexOf('<h2 id="jobs">'));
    expect(jobs.indexOf(`>${second.id}</a>`)).toBeGreaterThan(0);
    expect(jobs.indexOf(`>${second.id}</a>`)).toBeLessThan(jobs.indexOf(`>${first.id}</a>`));
    expect(html).toContain(`<code>${SHA.slice(0, 7)}</code>`);
    expect(html).toMatch(/>web<\/a><\/th><td><code>role=web<\/code><\/td><td><strong>in the group<\/strong>/);
    expect(html).toMatch(/>db<\/a><\/th><td><code>role=db<\/code><\/td><td><span class="muted">not in it<\/span>/);
  });

  it('is 404 for an agent that is not enrolled', async () => {
    const { status, html } = await get(`/agents/${encodeURIComponent(MARKUP)}`);
    expect(status).toBe(404);
    expect(html).toContain('No agent named &quot;&lt;img src=x onerror=alert(1)&gt;&quot; is enrolled on this hub');
    expect(html).not.toContain('<img src=x');
  });
});

describe('GET /config', () => {
  it('shows the commit in force, a rejected commit with its errors, and each group resolved to its agents (count and first 20)', async () => {
    for (let i = 0; i < 25; i++) await addAgent(`ag_${i}`, `web-${String(i).padStart(2, '0')}`);
    await addAgent('ag_d', `db ${MARKUP}`, { role: 'db' });
    statuses[0]!.rejected = { sha: 'd'.repeat(40), errors: [{ file: 'groups.yml', path: 'groups.web', line: 3, message: 'expected a selector, got <b>x</b>', hint: 'add matchLabels' }] };
    const { status, html } = await get('/config');
    expect(status).toBe(200);
    expect(html).toContain(`<code>${'c'.repeat(40)}</code>`);
    expect(html).toContain('<code>https://git.example/acme/.bitenvoy.git</code>');
    expect(html).toContain(`Rejected commit <code>${'d'.repeat(40)}</code>`);
    expect(html).toContain('<code>groups.yml:3</code> <code>groups.web</code>: expected a selector, got &lt;b&gt;x&lt;/b&gt; <small>add matchLabels</small>');
    expect(html).toMatch(/>web<\/th><td><code>role=web<\/code><\/td><td><a href="\/agents\?group=web">25<\/a>/);
    const webRow = /<tr><th scope="row">web<\/th>.*?<\/tr>/s.exec(html)![0];
    expect(webRow.match(/<a href="\/agents\/web-/g)).toHaveLength(20);
    expect(webRow).not.toContain('web-20');
    expect(html).toContain('<br><small>the &lt;b&gt;databases&lt;/b&gt;</small>');
    expect(html).toContain('<a href="/agents/db%20%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E">db &lt;img src=x onerror=alert(1)&gt;</a>');
    expect(html).not.toMatch(/<img src=x|<b>/);
  });
});

describe('access', () => {
  it('needs a session for /agents, an agent and /config when the dashboard is not public', async () => {
    await addAgent('ag_a', 'web-1');
    isPublic = false;
    for (const path of ['/agents', '/agents/web-1', '/config', '/agents?state=lost']) {
      const res = await get(path);
      expect(res.status).toBe(303);
      expect(res.location).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
    const session = await sessions.start();
    const signedIn = await get('/agents/web-1', `${SESSION_COOKIE}=${session.id}`);
    expect(signedIn.status).toBe(200);
    expect(signedIn.html).toContain('<h1>Agent web-1</h1>');
  });
});
