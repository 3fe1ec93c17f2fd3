/**
 * `npm run demo`: one real deployment on this machine. Throw-away git repositories served over HTTP by git itself,
 * a hub on the embedded SQLite store, two agents enrolled with one-time tokens, and the sample application deployed
 * to both. Succeeds only when both agents report success and their `current` release holds the deployed commit.
 */
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from './sample-app.js';
import { startWorld, type World } from './world.js';

export interface DemoOptions {
  keep: boolean;
  print: (line: string) => void;
  /** Echo the hub's and agents' own logs. */
  verbose?: boolean;
}

export async function runDemo(options: DemoOptions): Promise<boolean> {
  const { print } = options;
  print('Starting a git server, a hub and two agents in a temporary folder…');
  const world = await startWorld({ agents: 2, echo: options.verbose, keepFiles: options.keep });
  let ok = false;
  try {
    print(`  git over HTTP  ${world.git.url}  (config repo bitenvoy/.bitenvoy, application ${SAMPLE_REPOSITORY})`);
    print(`  hub            ${world.hub.url}  (data in ${join(world.root, 'hub')})`);
    for (const agent of world.agents) print(`  agent          ${agent.name}  (labels role=web, dir ${agent.dir})`);
    print(`\nDeploying ${SAMPLE_REPOSITORY}@main to ${SAMPLE_ENVIRONMENT}…`);
    const { deployment, url } = await world.deploy();
    print(`  deployment ${deployment.id}: commit ${deployment.sha.slice(0, 7)}, strategy ${deployment.strategy}`);
    print(`  status page ${url}`);
    const view = await followDemo(world, deployment.id, print);
    ok = view === 'success' && (await checkReleases(world, deployment.sha, print));
    print(ok ? '\nDemo succeeded: both agents run the deployed commit.' : '\nDemo FAILED: see the status page and logs above.');
    if (options.keep) {
      print(`\n--keep: everything keeps running. Status page: ${url}\nPress Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
  } finally {
    if (!ok && !options.keep) {
      print('\n--- hub log (tail) ---\n' + world.hub.output().slice(-4000));
      for (const a of world.agents) print(`--- ${a.name} log (tail) ---\n` + a.process.output().slice(-3000));
    }
    await world.close();
  }
  return ok;
}

async function followDemo(world: World, id: string, print: (line: string) => void): Promise<string> {
  const seen = new Set<string>();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const res = await fetch(`${world.hub.url}/api/v1/deployments/${id}`, { headers: { authorization: `Bearer ${world.hub.adminToken}` } });
    const view = (await res.json()) as Awaited<ReturnType<World['waitForDeployment']>>;
    for (const job of view.jobs) {
      const line = `  ${job.agentName ?? job.agentId}: ${job.state}${job.step ? ` · step ${job.step.name} ${job.step.status}` : ''}`;
      if (!seen.has(line)) print(line);
      seen.add(line);
    }
    const state = view.deployment.state;
    if (['success', 'failure', 'error', 'cancelled'].includes(state)) {
      print(`  ${state}: ${view.deployment.description}`);
      return state;
    }
    if (Date.now() > deadline) {
      print(`  gave up waiting after 120 s; last state ${state}`);
      return state;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function checkReleases(world: World, sha: string, print: (line: string) => void): Promise<boolean> {
  let ok = true;
  for (const agent of world.agents) {
    const current = join(agent.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT, 'current');
    try {
      const target = await readlink(current);
      const html = await readFile(join(current, 'public', 'index.html'), 'utf8');
      print(`  ${agent.name}: current → ${target}; serves "${html.match(/<h1>(.*)<\/h1>/)?.[1] ?? '?'}" (commit ${sha.slice(0, 7)})`);
    } catch (err) {
      ok = false;
      print(`  ${agent.name}: no deployed release at ${current}: ${(err as Error).message}`);
    }
  }
  return ok;
}
