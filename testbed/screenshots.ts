/**
 * `npm run screenshots`: every status page, rendered by Debian's Chromium (through playwright-core) from a seeded
 * installation, saved as PNGs to docs/screenshots/ for the README. The seed is real: a world (testbed/world.ts) with a
 * hub on SQLite and two agents deploying the sample app with the starter's `canary` strategy — one deployment that
 * succeeded (continued at its gate), one that failed (its `check` step exits 1), one paused at its manual gate — and
 * `staging` locked with a reason. Pages are 1280 px wide; the Environments page is also taken 390 px wide (a phone)
 * and in dark mode.
 *
 * A developer tool: it loads playwright-core, a devDependency, so it runs from a checkout, not an installed package.
 *
 * @example
 * npm run screenshots            # writes docs/screenshots/*.png
 * node dist/testbed/screenshots.js /tmp/shots
 */
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { DeploymentRecord } from '../app/model.js';
import { ADMIN_API_PREFIX, FINAL_DEPLOYMENT_STATES } from '../lib/protocol.js';
import { packageRoot } from '../lib/package-root.js';
import { launchChromium } from './chromium.js';
import { pushCommit } from './git-repos.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY, sampleAppFiles } from './sample-app.js';
import { startWorld, type DeploymentView, type World } from './world.js';

const WIDE = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? join(packageRoot(), 'docs', 'screenshots');
  await mkdir(outDir, { recursive: true });
  const browser = await launchChromium('`npm run screenshots`');
  console.log('Starting a git server, a hub and two agents (canary strategy)…');
  const world = await startWorld({ agents: 2, strategy: 'canary' }).catch(async (err: unknown) => {
    await browser.close();
    throw err;
  });
  try {
    const seed = await seedWorld(world);
    await takeScreenshots(world, browser, seed, outDir);
    console.log(`Screenshots written to ${relative(process.cwd(), outDir) || '.'}`);
  } finally {
    await browser.close();
    await world.close();
  }
}

interface Seed {
  paused: DeploymentView;
  headSha: string;
}

/** One success, one failure, one rollout paused at its gate, then `staging` locked with a reason. */
async function seedWorld(world: World): Promise<Seed> {
  console.log('Deploying main (continued at the gate) …');
  const first = (await world.deploy()).deployment;
  await waitFor(world, first.id, (v) => Boolean(v.deployment.gate) || FINAL_DEPLOYMENT_STATES.includes(v.deployment.state), 'paused at its gate');
  await adminApi(world, 'POST', `/deployments/${first.id}/continue?by=alice`);
  const done = await world.waitForDeployment(first.id, 120_000);
  if (done.deployment.state !== 'success') throw new Error(`the first deployment ended ${done.deployment.state}, not success: see ${world.hub.url}/deployments/${first.id}`);

  console.log('Deploying a commit whose check step fails …');
  const broken = sampleAppFiles('2');
  broken['bitenvoy.yml'] = broken['bitenvoy.yml']!.replace(
    'run: test -s public/index.html && echo "build output looks right"',
    'run: echo "public/index.html is missing the price list" >&2; exit 1',
  );
  await pushCommit(world.appRepo, broken, 'Shop 2: price list (the check catches a broken build)');
  const failed = (await world.deploy()).deployment;
  const failedView = await world.waitForDeployment(failed.id, 120_000);
  if (failedView.deployment.state === 'success') throw new Error(`the broken commit deployed successfully: ${world.hub.url}/deployments/${failed.id}`);
  await waitForAllFinal(world);

  console.log('Deploying a fixed commit, left paused at its gate …');
  const headSha = await pushCommit(world.appRepo, sampleAppFiles('3'), 'Shop 3: price list, fixed');
  const pausedId = (await world.deploy()).deployment.id;
  const paused = await waitFor(world, pausedId, (v) => Boolean(v.deployment.gate), 'paused at its manual gate');

  await adminApi(world, 'POST', '/environments/lock', { repository: SAMPLE_REPOSITORY, environment: SAMPLE_ENVIRONMENT, reason: 'Black Friday code freeze', by: 'alice' });
  return { paused, headSha };
}

async function takeScreenshots(world: World, browser: Browser, seed: Seed, outDir: string): Promise<void> {
  const url = (path: string) => `${world.hub.url}${path}`;
  const contexts: BrowserContext[] = [];
  const newContext = async (options: Parameters<Browser['newContext']>[0]) => {
    const context = await browser.newContext(options);
    contexts.push(context);
    return context;
  };
  try {
    // Signed out: the sign-in page, then sign in through its form with the admin token.
    const signIn = await newContext({ viewport: WIDE });
    const page = await signIn.newPage();
    await shoot(page, url('/login'), outDir, 'login');
    await page.locator('#token').fill(world.hub.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(url('/'));
    const storageState = await signIn.storageState();

    const env = `/environments/${SAMPLE_REPOSITORY}/${SAMPLE_ENVIRONMENT}`;
    const server = seed.paused.jobs[0]!;
    const pages: [string, string][] = [
      ['environments', '/'],
      ['environment', env],
      ['deploy-plan', `${env}/deploy?sha=${seed.headSha}`],
      ['deployments', '/deployments'],
      ['deployment', `/deployments/${seed.paused.deployment.id}`],
      ['server', `/deployments/${seed.paused.deployment.id}/servers/${server.id}`],
      ['agents', '/agents'],
      ['agent', `/agents/${world.agents[0]!.name}`],
      ['config', '/config'],
    ];
    for (const [name, path] of pages) {
      await shoot(page, url(path), outDir, name);
    }

    const phone = await (await newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, storageState })).newPage();
    await shoot(phone, url('/'), outDir, 'environments-phone');

    const dark = await (await newContext({ viewport: WIDE, colorScheme: 'dark', storageState })).newPage();
    await shoot(dark, url(`/deployments/${seed.paused.deployment.id}`), outDir, 'deployment-dark');
  } finally {
    for (const context of contexts) await context.close();
  }
}

/** A full-page PNG; fails on an error page, so a broken seed does not end up in the README. */
async function shoot(page: Page, url: string, outDir: string, name: string): Promise<void> {
  const response = await page.goto(url, { waitUntil: 'load' });
  if (response && response.status() >= 400) throw new Error(`${page.url()} answered ${response.status()}: ${(await page.locator('body').innerText()).slice(0, 300)}`);
  // Live pages fill in from their event streams right after load.
  await page.waitForTimeout(500);
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  const { pathname, search } = new URL(page.url());
  console.log(`  ${name}.png  ${pathname}${search}`);
}

async function adminApi<T>(world: World, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${world.hub.url}${ADMIN_API_PREFIX}${path}`, {
    method,
    headers: { authorization: `Bearer ${world.hub.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function waitFor(world: World, id: string, done: (v: DeploymentView) => boolean, what: string, timeoutMs = 120_000): Promise<DeploymentView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await world.viewDeployment(id);
    if (view && done(view)) return view;
    if (Date.now() > deadline) throw new Error(`deployment ${id} was not ${what} after ${timeoutMs} ms: ${JSON.stringify(view?.deployment)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A failed canary may roll back as a new deployment: wait for it too, so the next one is not held behind it. */
async function waitForAllFinal(world: World, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { deployments } = await adminApi<{ deployments: DeploymentRecord[] }>(world, 'GET', '/deployments?limit=20');
    if (deployments.every((d) => FINAL_DEPLOYMENT_STATES.includes(d.state))) return;
    if (Date.now() > deadline) throw new Error(`deployments still running after ${timeoutMs} ms: ${deployments.filter((d) => !FINAL_DEPLOYMENT_STATES.includes(d.state)).map((d) => d.id).join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

main().catch((err: unknown) => {
  console.error(`npm run screenshots failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
