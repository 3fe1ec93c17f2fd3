/**
 * The deploy page and its actions on a real hub in local mode (real SQLite file, config and application repositories
 * over real git HTTP): the branch's commits listed over git with "no checks in local mode", the plan shown before
 * confirming, confirm landing on the deployment page, the CSRF and origin checks, a lock with its reason refusing a
 * deploy that names it, unlock, the promotion order (`after:`), and markup in commit messages and reasons shown as text.
 * Every action is audited under the person who signed in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headOf, pushCommit } from '../../testbed/git-repos.js';
import { SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

let t: TestHub;
const DEPLOY = `/environments/${SAMPLE_REPOSITORY}/staging/deploy`;
const EVIL = '<script>alert(1)</script>';

beforeAll(async () => {
  t = await startTestHub();
  await t.enroll('web-1');
  await t.enroll('web-2');
}, 60_000);
afterAll(async () => {
  await t?.close();
});

interface Answer {
  status: number;
  html: string;
  location: string | null;
  cookies: string[];
}

async function request(path: string, options: { method?: string; form?: Record<string, string>; cookie?: string; origin?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  if ((options.method ?? 'GET') === 'POST') headers.origin = options.origin ?? t.url;
  let body: string | undefined;
  if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(`${t.url}${path}`, { method: options.method ?? 'GET', headers, body, redirect: 'manual' });
  return { status: res.status, html: await res.text(), location: res.headers.get('location'), cookies: res.headers.getSetCookie() };
}

async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const res = await request('/login', { method: 'POST', form: { token: ADMIN_TOKEN, next: '/' } });
  expect(res.status).toBe(303);
  const cookie = res.cookies[0]!.split(';')[0]!;
  const page = await request(DEPLOY, { cookie });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)?.[1];
  if (!csrf) throw new Error(`the signed-in deploy page carries no CSRF token:\n${page.html}`);
  return { cookie, csrf };
}

async function auditOf(action: string): Promise<Array<Record<string, string>>> {
  const res = await t.call('GET', `/api/v1/audit?repository=${encodeURIComponent(SAMPLE_REPOSITORY)}`, { token: ADMIN_TOKEN });
  return (res.json.entries as Array<Record<string, string>>).filter((e) => e.action === action);
}

/** The text of the page with tags removed and entities read, whitespace collapsed. */
function text(html: string): string {
  return html.replace(/<style>[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ').replace(/ ([,.:])/g, '$1');
}

describe('the deploy page in local mode', () => {
  it('lists the branch commits over git, says there are no checks, and offers sign-in instead of buttons', async () => {
    const head = await headOf(t.appRepo);
    const res = await request(DEPLOY);
    expect(res.status).toBe(200);
    expect(text(res.html)).toContain('Recent commits on main');
    expect(res.html).toContain(`<code>${head.slice(0, 7)}</code>`);
    expect(text(res.html)).toContain('No checks in local mode');
    expect(res.html).toContain('Sign in to deploy, roll back or lock');
    expect(res.html).not.toContain('name="csrf"');
    expect(res.html).not.toContain('method="post"');
  });

  it('shows the plan before confirming; confirm starts the deployment and lands on its page, audited as admin', async () => {
    const sha = await pushCommit(t.appRepo, { 'VERSION': '2\n' }, `release 2 ${EVIL}`);
    const { cookie, csrf } = await signIn();
    const list = await request(DEPLOY, { cookie });
    // A commit message with markup is text.
    expect(list.html).toContain('release 2 &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(list.html).not.toContain(EVIL);

    const plan = await request(`${DEPLOY}?sha=${sha}`, { cookie });
    expect(plan.status).toBe(200);
    const shown = text(plan.html);
    expect(shown).toContain(`Plan: deploy ${sha.slice(0, 7)} to staging`);
    expect(shown).toContain('Group web, strategy all-at-once: 2 servers today.');
    expect(shown).toMatch(/1\/1 web-1, web-2 done/);
    expect(shown).toContain('Nothing blocks it.');
    expect(plan.html).toContain(`<input type="hidden" name="sha" value="${sha}"><button type="submit">Deploy ${sha.slice(0, 7)} to staging</button>`);

    const posted = await request(DEPLOY, { method: 'POST', cookie, form: { csrf, sha } });
    expect(posted.status).toBe(303);
    const id = /^\/deployments\/(dep_[\w-]+)$/.exec(posted.location ?? '')?.[1];
    expect(id, posted.location ?? posted.html).toBeDefined();
    const deployment = await t.call('GET', `/api/v1/deployments/${id}`, { token: ADMIN_TOKEN });
    expect(deployment.json.deployment).toMatchObject({ sha, environment: 'staging', createdBy: 'admin', trigger: 'dashboard' });
    expect((await auditOf('deploy')).at(-1)).toMatchObject({ actor: 'admin', sha, outcome: 'started', deploymentId: id });
  });

  it('refuses a post without the CSRF token, with another token, or from another origin', async () => {
    const { cookie, csrf } = await signIn();
    const sha = await headOf(t.appRepo);
    const none = await request(DEPLOY, { method: 'POST', cookie, form: { sha } });
    expect(none.status).toBe(403);
    expect(text(none.html)).toContain('the form carries no CSRF token');
    const wrong = await request(DEPLOY, { method: 'POST', cookie, form: { csrf: 'x'.repeat(43), sha } });
    expect(wrong.status).toBe(403);
    const elsewhere = await request(DEPLOY, { method: 'POST', cookie, form: { csrf, sha }, origin: 'https://evil.example' });
    expect(elsewhere.status).toBe(403);
    expect(text(elsewhere.html)).toContain('comes from https://evil.example');
    const unsigned = await request(DEPLOY, { method: 'POST', form: { csrf, sha } });
    expect(unsigned.status).toBe(401);
    // A refusal page leads back to the deploy page.
    expect(unsigned.html).toContain(`<a href="${DEPLOY}">Back to the deploy page</a>`);
  });

  it('locks with a reason; the plan and a deploy are refused naming the lock; unlock lets it go', async () => {
    const { cookie, csrf } = await signIn();
    const sha = await headOf(t.appRepo);
    const noReason = await request(`/environments/${SAMPLE_REPOSITORY}/staging/lock`, { method: 'POST', cookie, form: { csrf, reason: '  ' } });
    expect(noReason.status).toBe(400);
    const locked = await request(`/environments/${SAMPLE_REPOSITORY}/staging/lock`, { method: 'POST', cookie, form: { csrf, reason: `db migration ${EVIL}` } });
    expect(locked.status).toBe(303);
    expect(locked.location).toBe(`${DEPLOY}?done=locked`);
    const page = await request(`${DEPLOY}?sha=${sha}`, { cookie });
    expect(page.html).not.toContain(EVIL);
    expect(text(page.html)).toMatch(/`staging` is locked by @admin since .* UTC: db migration <script>alert\(1\)<\/script>\./);
    expect(text(page.html)).toContain('Blocked:');
    expect(page.html).not.toContain(`>Deploy ${sha.slice(0, 7)} to staging</button>`);

    const refused = await request(DEPLOY, { method: 'POST', cookie, form: { csrf, sha } });
    expect(refused.status).toBe(409);
    expect(text(refused.html)).toMatch(/cannot deploy `[0-9a-f]{7}` to `staging`: `staging` is locked by @admin since .*: db migration <script>/i);
    expect(refused.html).not.toContain(EVIL);
    expect((await auditOf('deploy')).at(-1)).toMatchObject({ actor: 'admin', outcome: 'refused' });
    expect((await auditOf('lock')).at(-1)).toMatchObject({ actor: 'admin', outcome: 'locked' });

    const unlocked = await request(`/environments/${SAMPLE_REPOSITORY}/staging/unlock`, { method: 'POST', cookie, form: { csrf } });
    expect(unlocked.status).toBe(303);
    expect(unlocked.location).toBe(`${DEPLOY}?done=unlocked`);
    expect((await auditOf('unlock')).at(-1)).toMatchObject({ actor: 'admin', outcome: 'unlocked' });
    const again = await request(`/environments/${SAMPLE_REPOSITORY}/staging/unlock`, { method: 'POST', cookie, form: { csrf } });
    expect(again.status).toBe(409);
    expect(text((await request(`${DEPLOY}?sha=${sha}`, { cookie })).html)).toContain('Nothing blocks it.');
  });

  it('refuses a commit not live on the environment before (`after:`), saying what runs there', async () => {
    await pushCommit(
      t.configRepo,
      {
        [`repositories/${SAMPLE_REPOSITORY}.yml`]: `git: ${t.git.url}/${SAMPLE_REPOSITORY}.git\nenvironments:\n  staging:\n    branch: main\n    group: web\n  production:\n    branch: main\n    group: web\n    after: staging\n`,
      },
      'production after staging',
    );
    expect((await t.call('POST', '/api/v1/config/refresh', { token: ADMIN_TOKEN })).status).toBe(200);
    const { cookie, csrf } = await signIn();
    const sha = await pushCommit(t.appRepo, { 'VERSION': '3\n' }, 'release 3');
    const production = `/environments/${SAMPLE_REPOSITORY}/production/deploy`;
    const page = await request(production, { cookie });
    expect(text(page.html)).toContain('Promote from staging');
    const refused = await request(production, { method: 'POST', cookie, form: { csrf, sha } });
    expect(refused.status).toBe(409);
    expect(text(refused.html)).toContain(`\`production\` takes only commits live on \`staging\` first; \`staging\` runs nothing yet, this is \`${sha.slice(0, 7)}\``);
  });

  it('answers an unknown environment with the known ones', async () => {
    const res = await request(`/environments/${SAMPLE_REPOSITORY}/nowhere/deploy`);
    expect(res.status).toBe(404);
    expect(text(res.html)).toContain('has no environment `nowhere`; its environments: staging');
  });
});
