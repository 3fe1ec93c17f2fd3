/**
 * The environments pages over real HTTP on loopback, on the real engine and SQLite store: `/` lists every configured
 * repository × environment with its live commit, lock, rollout and servers not on the live commit (exact, from each
 * server's release), filtered and paged; `/environments/:owner/:repo/:environment` adds its history and what each
 * server runs now, each paginated; names and texts containing markup render as text; an unknown environment is 404.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Environment } from '../../config-schema/types.generated.js';
import type { ConfigInForce } from '../../app/config/config-repo.js';
import { environmentsPageRoutes } from '../../app/pages/environments-page-routes.js';
import { takeLock } from '../../app/rollout/environment-locks.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { DEPLOY, SHA, configWith, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';
import { serveRoutes, type ServedRoutes } from '../helpers/serve-routes.js';

const NEWER = 'b'.repeat(40);
const MARKUP = '<img src=x onerror=alert(1)>';

let f: EngineFixture;
let engine: RolloutEngine;
let served: ServedRoutes;
let base: string;
let configs: ConfigInForce[];

/** The fixture's config (acme/shop: staging, plus f.environments) and further repositories with the given environments. */
function setConfig(more: Record<string, string[]> = {}): void {
  const config = configWith(f.strategy);
  Object.assign(config.repositories['acme/shop']!.environments, f.environments);
  for (const [name, envs] of Object.entries(more)) {
    config.repositories[name] = { ...config.repositories['acme/shop']!, name, environments: Object.fromEntries(envs.map((e) => [e, { branch: 'main', group: 'web' } as Environment])) };
  }
  configs = [config];
}

beforeEach(async () => {
  f = await openEngineFixture();
  engine = f.engine();
  setConfig();
  served = await serveRoutes([environmentsPageRoutes({ store: f.store, configs: { inForce: () => configs, current: (r) => configs.find((c) => c.repositories[r]) } })]);
  base = served.base;
});
afterEach(async () => {
  await served.close();
  await f.close();
});

async function get(path: string): Promise<{ status: number; html: string }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, html: await res.text() };
}

/** staging live on SHA on web-1 and web-2, then a newer commit, in progress, that failed on web-1: one server off the live commit. */
async function liveThenFailedNewer(): Promise<{ live: string; newer: string }> {
  await f.addAgent('ag_a', 'web-1');
  await f.addAgent('ag_b', 'web-2 <b>x</b>');
  const live = await engine.createDeployment(DEPLOY, 'github:<b>octo</b>');
  await f.agentRuns(engine, 'ag_a');
  await f.agentRuns(engine, 'ag_b');
  f.sha = NEWER;
  f.now += 60_000;
  const newer = await engine.createDeployment(DEPLOY, 'api');
  await f.agentRuns(engine, 'ag_a', 'failed', 'step <migrate> exited 1');
  return { live: live.id, newer: newer.id };
}

describe('GET / (environments)', () => {
  it('shows each environment: live commit, who and when, the newer failure, the lock, and the servers not on the live commit', async () => {
    const { live, newer } = await liveThenFailedNewer();
    await takeLock(f.store, { repository: 'acme/shop', environment: 'staging', by: 'nora', reason: `<script>x</script> migration`, at: '2026-11-25T10:00:00.000Z' });
    const { status, html } = await get('/');
    expect(status).toBe(200);
    expect(html).toContain('<a href="/environments/acme/shop/staging">acme/shop <span aria-hidden="true">→</span> staging</a>');
    expect(html).toContain(`<a href="/deployments/${live}"><code title="${SHA}">${SHA.slice(0, 7)}</code></a>`);
    expect(html).toContain('by github:&lt;b&gt;octo&lt;/b&gt;');
    expect(html).toContain(`<span class="state in_progress">in_progress</span><br><small><a href="/deployments/${newer}">${newer}</a>: 0/2 servers`);
    expect(html).toContain(`<span class="state in_progress">in progress</span> <a href="/deployments/${newer}">${newer}</a> <small>batch 1/1 · <code>bbbbbbb</code>`);
    expect(html).toContain('locked</span><br><small>`staging` is locked by @nora since 2026-11-25 10:00 UTC: &lt;script&gt;x&lt;/script&gt; migration');
    // The newer commit failed on web-1, which still runs the live one, as web-2 does.
    expect(html).toContain('all 2 on it');
    expect(html).not.toMatch(/<script>|<b>/);
    expect(html).toContain('<nav class="top" aria-label="BitEnvoy">');
    expect(html).toContain('<a href="/" aria-current="page">Environments</a>');
    // web-2 takes the newer commit: the rollout ends failed, the live commit stays, and one server is not on it.
    await f.agentRuns(engine, 'ag_b');
    expect((await get('/')).html).toContain('1 of 2 not on it');
  });

  it('renders an environment or repository named with markup as text, filters by repository and search, and pages the pairs', async () => {
    f.environments = { [MARKUP]: { branch: 'main', group: 'web' } as Environment };
    setConfig({ 'acme/big': Array.from({ length: 60 }, (_, i) => `env-${String(i).padStart(2, '0')}`), 'acme/<i>odd</i>': ['prod'] });
    let page = await get('/');
    expect(page.html).not.toMatch(/<img src=x|<i>/);
    expect(page.html).toContain('<option>acme/&lt;i&gt;odd&lt;/i&gt;</option>');
    expect(page.html).toContain('<a href="/environments/acme/%3Ci%3Eodd%3C%2Fi%3E/prod">acme/&lt;i&gt;odd&lt;/i&gt; <span aria-hidden="true">→</span> prod</a>');
    expect(page.html).toContain('63 environments');
    expect(page.html.match(/<tr><th scope="row">/g)).toHaveLength(50);
    const next = /<a href="([^"]+)">next 50<\/a>/.exec(page.html)![1]!.replaceAll('&amp;', '&');
    page = await get(next);
    expect(page.html.match(/<tr><th scope="row">/g)).toHaveLength(13);
    expect(page.html).toContain('acme/shop <span aria-hidden="true">→</span> staging');
    expect(page.html).not.toContain('next 50');

    page = await get('/?repository=acme%2Fshop');
    expect(page.html).toContain('2 environments');
    expect(page.html).not.toContain('<img src=x');
    expect(page.html).toContain('acme/shop <span aria-hidden="true">→</span> &lt;img src=x onerror=alert(1)&gt;</a>');
    expect(page.html).toContain(`href="/environments/acme/shop/${encodeURIComponent(MARKUP)}"`);
    // Its own page, reached through the encoded link: the name as text again.
    const own = await get(`/environments/acme/shop/${encodeURIComponent(MARKUP)}`);
    expect(own.status).toBe(200);
    expect(own.html).toContain('<h1>acme/shop <span aria-hidden="true">→</span> &lt;img src=x onerror=alert(1)&gt;</h1>');
    expect(own.html).not.toContain('<img src=x');
    expect((await get('/environments/acme/%3Ci%3Eodd%3C%2Fi%3E/prod')).html).toContain('<h1>acme/&lt;i&gt;odd&lt;/i&gt; <span');
    expect(page.html).toContain('<option selected>acme/shop</option>');
    page = await get('/?q=ENV-5');
    expect(page.html).toContain('10 environments');
    expect(page.html).toContain('value="ENV-5"');
    expect((await get('/?q=%22%3E%3Cscript%3E')).html).toContain('No environment matches “&quot;&gt;&lt;script&gt;”');
    expect((await get('/?after=nope')).status).toBe(400);
  });
});

describe('GET /environments/:owner/:repo/:environment', () => {
  it('shows the facts, a Deploy link, what each server runs now, and the history newest first, 20 a page', async () => {
    const { live, newer } = await liveThenFailedNewer();
    await f.agentRuns(engine, 'ag_b');
    const { status, html } = await get('/environments/acme/shop/staging');
    expect(status).toBe(200);
    expect(html).toContain('<a class="button" href="/environments/acme/shop/staging/deploy">Deploy…</a>');
    expect(html).toContain('(2 servers)');
    // web-1: its newer job failed, it runs the live commit; web-2 runs the newer one. Each linked to its job's page.
    const liveJob = `job_${live.slice(4)}_0_a`;
    const newerJob = `job_${newer.slice(4)}_0_b`;
    expect(html).toContain(
      `<th scope="row"><a href="/agents/web-1">web-1</a></th>\n<td class="state succeeded">the live commit <code title="${SHA}">${SHA.slice(0, 7)}</code></td>\n<td><a href="/deployments/${live}/servers/${liveJob}">${live}</a></td>`,
    );
    expect(html).toContain(
      `<th scope="row"><a href="/agents/web-2%20%3Cb%3Ex%3C%2Fb%3E">web-2 &lt;b&gt;x&lt;/b&gt;</a></th>\n<td class="state failed">another commit <code title="${NEWER}">bbbbbbb</code></td>\n<td><a href="/deployments/${newer}/servers/${newerJob}">${newer}</a></td>`,
    );
    expect(html).toContain('1 of 2 not on it');
    expect(html.indexOf(newer)).toBeLessThan(html.lastIndexOf(live));
    expect(html).not.toContain('<b>');

    for (let i = 0; i < 22; i++) {
      f.now += 1000;
      await engine.cancelDeployment((await engine.createDeployment(DEPLOY, 'api')).id, 'test');
    }
    const first = await get('/environments/acme/shop/staging');
    const rows = (h: string) => [...h.matchAll(/<tr><td><a href="\/deployments\/(dep_[^"]+)">/g)].map((m) => m[1]);
    expect(rows(first.html)).toHaveLength(20);
    const older = /<a href="([^"]+)">older 20<\/a>/.exec(first.html)![1]!.replaceAll('&amp;', '&');
    const second = await get(older);
    expect(rows(second.html)).toHaveLength(4);
    expect(rows(second.html).slice(-1)).toEqual([live]);
    expect(new Set([...rows(first.html), ...rows(second.html)]).size).toBe(24);
  });

  it("shows the live commit's title and author (as text), in the facts and the history; a deployment recorded without them shows its ref and description", async () => {
    await f.addAgent('ag_a', 'web-1');
    // An older deployment, planned before the hub read commit titles.
    const old = await engine.createDeployment(DEPLOY, 'api');
    await f.agentRuns(engine, 'ag_a');
    let page = await get('/environments/acme/shop/staging');
    expect(page.html).toContain(`<code title="${SHA}">${SHA.slice(0, 7)}</code></a> <small>main</small><br><small>1/1 servers succeeded`);
    expect(page.html).not.toContain('commit-title');

    const titled = f.engine({ describeCommit: async (t) => ({ title: `<b>x</b> ships ${t.sha.slice(0, 4)}`, author: 'Ada <ada@example.com> (@ada)' }) });
    f.sha = NEWER;
    f.now += 60_000;
    const dep = await titled.createDeployment(DEPLOY, 'api');
    await f.agentRuns(titled, 'ag_a');
    const title = '<span class="commit-title">&lt;b&gt;x&lt;/b&gt; ships bbbb</span> <small>by Ada &lt;ada@example.com&gt; (@ada)</small>';
    for (const path of ['/', '/environments/acme/shop/staging']) {
      page = await get(path);
      expect(page.html).toContain(`<a href="/deployments/${dep.id}"><code title="${NEWER}">bbbbbbb</code></a> ${title}<br><small>main</small>`);
      expect(page.html).not.toMatch(/<b>|<ada@/);
    }
    // The history: the new deployment with its title, the old one as before.
    expect(page.html).toContain(`<code title="${NEWER}">bbbbbbb</code></a> <small>main</small><br>${title}</td>`);
    expect(page.html).toContain(`<a href="/deployments/${old.id}"><code title="${SHA}">${SHA.slice(0, 7)}</code></a> <small>main</small></td>`);
  });

  it("pages the servers 50 at a time by agent id; a removed agent shows its id, a pruned deployment no link", async () => {
    await f.addAgent('ag_a', 'web-1');
    const live = await engine.createDeployment(DEPLOY, 'api');
    await f.agentRuns(engine, 'ag_a');
    // 55 more servers' releases of a deployment retention has pruned, their agents no longer enrolled.
    for (let i = 0; i < 55; i++) {
      await f.store.db.run(
        'INSERT INTO releases (repository, environment, agent_id, sha, deployment_id, job_id, job_created_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        'acme/shop',
        'staging',
        `ag_x${String(i).padStart(2, '0')}`,
        NEWER,
        'dep_pruned',
        `job_pruned_0_x${i}`,
        '2026-11-20T10:00:00.000Z',
        '2026-11-20T10:01:00.000Z',
      );
    }
    const servers = (h: string) => h.match(/<tr><th scope="row"><(a href="\/agents|code)/g)?.length ?? 0;
    const first = await get('/environments/acme/shop/staging');
    expect(first.html).toContain('55 of 56 not on it');
    expect(servers(first.html)).toBe(50);
    expect(first.html).toContain(`<a href="/deployments/${live.id}/servers/`);
    expect(first.html).toContain('<th scope="row"><code>ag_x00</code></th>');
    expect(first.html).toContain('<td>dep_pruned <small class="muted">(pruned)</small></td>');
    expect(first.html).not.toContain('href="/deployments/dep_pruned');
    const next = /<a href="([^"]+)">next 50 servers<\/a>/.exec(first.html)![1]!.replaceAll('&amp;', '&');
    expect(next).toContain('servers_after=ag_x48');
    const second = await get(next);
    expect(servers(second.html)).toBe(6);
    expect(second.html).toContain('<code>ag_x54</code>');
    expect(second.html).not.toContain('<code>ag_x48</code>');
    expect(second.html).not.toContain('next 50 servers');
    expect((await get('/environments/acme/shop/staging?servers_after=%3Cx%3E')).status).toBe(400);
  });

  it('is 404 for an environment or repository not in the config in force', async () => {
    for (const path of ['/environments/acme/shop/nope', '/environments/acme/none/staging']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.html).toContain('in the config in force');
    }
  });
});
