/**
 * The deploy page in GitHub mode, in a real browser (Debian's Chromium through playwright-core), against real
 * processes: a hub in GitHub mode (pages private, its default there) talking to the GitHub stand-in as GitHub
 * Enterprise Server, two enrolled agents and git over HTTP. Staging needs the `test` check and lets only `fiona`
 * force. People sign in with GitHub through the stand-in's OAuth pages:
 * - a reader sees the page and a commit's plan, but no button that deploys or locks;
 * - a writer picks the green commit, sees the plan, deploys it: a GitHub Deployment made by the App, naming them in
 *   its payload and description, reaches `success` through its statuses, and the audit log names them; the red commit
 *   is refused naming the failing check and who may force, and a forced post of theirs is refused;
 * - `fiona`, with JavaScript off (plain form posts), deploys the red commit with "Deploy anyway (forced)" once she
 *   ticks the box naming the check: the GitHub Deployment and its statuses say it was forced, the audit log too.
 * Every request the hub made of GitHub matches GitHub's published REST description.
 */
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../app/audit/audit-log.js';
import { ADMIN_API_PREFIX } from '../../lib/protocol.js';
import { launchChromium, openFresh } from '../../testbed/chromium.js';
import type { StandInDeployment } from '../../testbed/github-stand-in.js';
import { SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 180_000;

/** Staging deploys only when asked (no `auto`), needs `test`, and lets only fiona deploy past it. */
const REPOSITORY_CONFIG = `# The demo shop: deployed when asked; past red checks only by fiona.
environments:
  staging:
    branch: main
    group: web
    strategy: all-at-once
    url: https://staging.shop.example
    requiredChecks: ["test"]
    forceUsers: [fiona]
`;

describe('the deploy page in GitHub mode, in a real browser', () => {
  let world: World;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let green: string;
  let red: string;
  let deployPage: string;

  beforeAll(async () => {
    world = await startWorld({ agents: 2, github: { requiredChecks: ['test'] }, configFiles: { [`repositories/${SAMPLE_REPOSITORY}.yml`]: REPOSITORY_CONFIG } });
    const github = world.github!;
    github.setPermission(SAMPLE_REPOSITORY, 'rita', 'read');
    github.setPermission(SAMPLE_REPOSITORY, 'wendy', 'write');
    github.setPermission(SAMPLE_REPOSITORY, 'fiona', 'write');
    // Two commits on main: the older one's `test` passed, the head's failed.
    ({ sha: green } = await github.push(SAMPLE_REPOSITORY, 'main', { VERSION: '2\n' }, 'a good change'));
    ({ sha: red } = await github.push(SAMPLE_REPOSITORY, 'main', { VERSION: '3\n' }, 'a change that breaks the tests'));
    await github.reportCheck(SAMPLE_REPOSITORY, green, 'test', 'success');
    await github.reportCheck(SAMPLE_REPOSITORY, red, 'test', 'failure');
    deployPage = `${world.hub.url}/environments/${SAMPLE_REPOSITORY}/staging/deploy`;
    browser = await launchChromium("the GitHub-mode deploy page's real-browser test");
  }, 10 * 60_000);
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  /** Opens the deploy page in a fresh profile: sent to sign in, through GitHub as `login`, and back. */
  async function signInThroughGitHub(login: string, options: BrowserContextOptions = {}): Promise<Page> {
    let page: Page;
    ({ context, page } = await openFresh(browser, undefined, options));
    await page.goto(deployPage);
    await page.waitForURL(/\/login\?next=/);
    await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await page.waitForURL(`${world.github!.url}/login/oauth/authorize?**`);
    await page.locator('#login').fill(login);
    await page.getByRole('button', { name: 'Authorize' }).click();
    await page.waitForURL(deployPage);
    expect(await page.locator('body').innerText()).toContain(`Signed in as ${login}.`);
    return page;
  }

  async function reviewPlan(page: Page, sha: string): Promise<string> {
    await page.getByRole('button', { name: `Review plan for ${sha.slice(0, 7)}` }).first().click();
    await page.waitForURL(new RegExp(`\\?sha=${sha}$`));
    return page.locator('section.plan').innerText();
  }

  /** The stand-in's only deployment of `sha`, once the hub told GitHub it ended (its status goes out after the rollout). */
  async function githubDeploymentOf(sha: string): Promise<StandInDeployment> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = world.github!.deployments.filter((d) => d.sha === sha);
      expect(found).toHaveLength(1);
      if (['success', 'failure', 'error'].includes(String(found[0]!.statuses.at(-1)?.state)) || Date.now() > deadline) return found[0]!;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it(
    'a reader sees the page and a plan, but no button that deploys or locks',
    async () => {
      const page = await signInThroughGitHub('rita');
      const text = await page.locator('body').innerText();
      expect(text).toContain(`You can view this environment but not deploy, roll back or lock it: sorry @rita, only people with write, maintain or admin permission on ${SAMPLE_REPOSITORY} can do that (you have read).`);
      expect(text).toContain('a good change');
      const plan = await reviewPlan(page, green);
      expect(plan).toContain('Nothing blocks it.');
      expect(await page.getByRole('button', { name: /^Deploy / }).count()).toBe(0);
      expect(await page.getByRole('button', { name: /^Lock / }).count()).toBe(0);
      await reviewPlan(page, red);
      expect(await page.getByRole('button', { name: 'Deploy anyway (forced)' }).count()).toBe(0);
    },
    E2E_TIMEOUT,
  );

  it(
    'a writer deploys the green commit after its plan as a GitHub Deployment naming them; the red one is refused naming the check, forced or not',
    async () => {
      let page = await signInThroughGitHub('wendy');
      const row = page.locator('tr', { has: page.locator(`code:text-is("${green.slice(0, 7)}")`) });
      expect(await row.locator('td').nth(3).innerText()).toBe('green: all 1 required checks passed');
      const plan = await reviewPlan(page, green);
      expect(plan).toContain(`Plan: deploy ${green.slice(0, 7)} to staging`);
      expect(plan).toMatch(/Group web, strategy all-at-once: 2 servers today\./);
      expect(plan).toContain('Nothing blocks it.');
      await page.getByRole('button', { name: `Deploy ${green.slice(0, 7)} to staging` }).click();
      await page.waitForURL(/\/deployments\/dep_[\w-]+$/);
      const id = /\/deployments\/(dep_[\w-]+)$/.exec(page.url())![1]!;
      const done = await world.waitForDeployment(id);
      expect(done.deployment).toMatchObject({ sha: green, state: 'success', createdBy: 'github:wendy' });
      expect(done.deployment.forced).toBeUndefined();

      // The App made it, like any BitEnvoy deployment, naming the person; GitHub saw it through to success.
      const made = await githubDeploymentOf(green);
      expect(world.github!.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${SAMPLE_REPOSITORY}/deployments` && r.status === 201)).toHaveLength(1);
      expect(made.body).toMatchObject({ environment: 'staging', description: 'BitEnvoy: deployed from the status page by wendy', payload: { bitenvoy: { rollout: id, actor: 'wendy' } } });
      expect((made.body.payload as { bitenvoy: { forced?: boolean } }).bitenvoy.forced).toBeUndefined();
      const states = made.statuses.map((s) => s.state);
      // Queued when made; the statuses in between may be coalesced (a short rollout), the last is its end.
      expect(states[0]).toBe('queued');
      expect(states.at(-1)).toBe('success');
      expect(made.statuses.every((s) => !String(s.description).startsWith('forced'))).toBe(true);
      expect((await audit()).filter((e) => e.deploymentId === id)).toEqual([expect.objectContaining({ actor: 'wendy', action: 'deploy', sha: green, outcome: 'started' })]);

      // The red commit: refused on its plan naming the check and who may force; no button of either kind.
      // Loaded in a tab of its own: the deployment page may still be reloading itself for the final state. That tab
      // stays open (the context closes it after the test): closing it mid-reload once hung the whole test.
      page = await within(30_000, 'opening a second tab', page.context().newPage());
      await within(30_000, 'loading the deploy page in it', page.goto(deployPage));
      await reviewPlan(page, red);
      const refusal = await page.locator('section.plan [role=alert]').innerText();
      const why = 'its checks are not green (checks failed: test (failure)); only forceUsers of `staging` (@fiona) may deploy it anyway, signed in with GitHub, and @wendy is not one of them';
      expect(refusal).toContain(why);
      expect(await page.getByRole('button', { name: `Deploy ${red.slice(0, 7)} to staging` }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Deploy anyway (forced)' }).count()).toBe(0);

      // A forced post of her own making, with the session's CSRF token: refused the same way, nothing made.
      const csrf = await page.locator('input[name=csrf]').first().inputValue();
      const forged = await within(
        30_000,
        'the forged post',
        page.evaluate(
          async ([path, sha, token]) => {
            const res = await fetch(path!, { method: 'POST', body: new URLSearchParams({ csrf: token!, sha: sha!, force: '1', confirm: sha! }), redirect: 'manual' });
            return { status: res.status, text: await res.text() };
          },
          [new URL(deployPage).pathname, red, csrf],
        ),
      );
      expect(forged.status).toBe(409);
      expect(forged.text).toContain(`Cannot deploy \`${red.slice(0, 7)}\` to \`staging\`: ${why}`);
      expect(world.github!.deployments.filter((d) => d.sha === red)).toEqual([]);
      expect((await audit()).filter((e) => e.sha === red)).toEqual([expect.objectContaining({ actor: 'wendy', action: 'deploy', outcome: 'refused' })]);
    },
    E2E_TIMEOUT,
  );

  it(
    'fiona, one of forceUsers, deploys the red commit with "Deploy anyway (forced)" once she ticks the box naming the check — without JavaScript',
    async () => {
      const page = await signInThroughGitHub('fiona', { javaScriptEnabled: false });
      const plan = await reviewPlan(page, red);
      expect(plan).toContain('its checks are not green (checks failed: test (failure)); as one of its forceUsers you may deploy it anyway');
      expect(await page.getByRole('button', { name: `Deploy ${red.slice(0, 7)} to staging` }).count()).toBe(0);

      // The box not ticked: the browser does not send the form.
      await page.getByRole('button', { name: 'Deploy anyway (forced)' }).click();
      expect(page.url()).toBe(`${deployPage}?sha=${red}`);
      expect(world.github!.deployments.filter((d) => d.sha === red)).toEqual([]);

      await page.getByLabel(`Deploy ${red.slice(0, 7)} to staging anyway, past its checks: checks failed: test (failure)`).check();
      await page.getByRole('button', { name: 'Deploy anyway (forced)' }).click();
      await page.waitForURL(/\/deployments\/dep_[\w-]+$/);
      const id = /\/deployments\/(dep_[\w-]+)$/.exec(page.url())![1]!;
      const done = await world.waitForDeployment(id);
      expect(done.deployment).toMatchObject({ sha: red, state: 'success', forced: true, createdBy: 'github:fiona' });

      const made = await githubDeploymentOf(red);
      expect(made.body).toMatchObject({ description: 'BitEnvoy: deployed from the status page by fiona (forced)', payload: { bitenvoy: { rollout: id, actor: 'fiona', forced: true } } });
      expect(made.statuses.at(-1)).toMatchObject({ state: 'success' });
      expect(made.statuses.every((s) => String(s.description).startsWith('forced · '))).toBe(true);
      const entries = (await audit()).filter((e) => e.deploymentId === id);
      expect(entries).toEqual([
        expect.objectContaining({ actor: 'fiona', action: 'deploy', sha: red, outcome: 'started', forced: true, detail: 'forced past checks that are not green (checks failed: test (failure))' }),
      ]);
      expect(world.github!.signIns).toEqual(['rita', 'wendy', 'fiona']);
      expect(world.github!.problems()).toEqual([]);
    },
    E2E_TIMEOUT,
  );

  /** `promise`, or a failure naming `what` after `ms`: a step that hangs says which it was. */
  async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)));
    try {
      return await Promise.race([promise, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function audit(): Promise<AuditEntry[]> {
    const res = await fetch(`${world.hub.url}${ADMIN_API_PREFIX}/audit`, { headers: { authorization: `Bearer ${world.hub.adminToken}` }, signal: AbortSignal.timeout(30_000) });
    return ((await res.json()) as { entries: AuditEntry[] }).entries;
  }
});
