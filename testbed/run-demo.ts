/**
 * `npm run demo`: one real deployment on this machine. Throw-away git repositories served over HTTP by git itself,
 * a hub on the embedded SQLite store, two agents enrolled with one-time tokens, and the sample application deployed
 * to both. Succeeds only when both agents report success and their `current` release holds the deployed commit.
 * With `keep`, everything stays up and a second deployment (production, a canary with `pause: manual`) waits at its
 * gate after the first server, for the user to press Continue or Cancel on its page.
 *
 * Runs from an installed package: nothing here may load a devDependency.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { FINAL_DEPLOYMENT_STATES } from '../lib/protocol.js';
import { pushCommit } from './git-repos.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY, sampleConfigFiles } from './sample-app.js';
import type { ServerPage } from '../app/rollout/deployment-view.js';
import { startWorld, type DeploymentView, type World } from './world.js';

export interface DemoOptions {
  keep: boolean;
  print: (line: string) => void;
  /** Echo the hub's and agents' own logs. */
  verbose?: boolean;
}

/** The environment `--keep` adds, deployed with the starter's `canary` strategy (`pause: manual` after one server). */
export const GATED_ENVIRONMENT = 'production';

export async function runDemo(options: DemoOptions): Promise<boolean> {
  const { print } = options;
  print('Starting a git server, a hub and two agents in a temporary folder…');
  // A token of its own, not a well-known one: with --keep the hub keeps listening.
  const adminToken = `bt_admin_demo_${randomBytes(18).toString('base64url')}`;
  const world = await startWorld({ agents: 2, echo: options.verbose, keepFiles: options.keep, hubEnv: { BITENVOY_ADMIN_TOKEN: adminToken } });
  let ok = false;
  try {
    print(`  git over HTTP  ${world.git.url}  (config repo bitenvoy/.bitenvoy, application ${SAMPLE_REPOSITORY})`);
    print(`  hub            ${world.hub.url}  (data in ${world.dataDir})`);
    print(`  admin token    ${world.hub.adminToken}  (Sign in at ${world.hub.url}/login; --token for the CLI)`);
    for (const agent of world.agents) print(`  agent          ${agent.name}  (labels role=web, dir ${agent.dir})`);
    print(`\nDeploying ${SAMPLE_REPOSITORY}@main to ${SAMPLE_ENVIRONMENT}…`);
    const { deployment, url } = await world.deploy();
    print(`  deployment ${deployment.id}: commit ${deployment.sha.slice(0, 7)}, strategy ${deployment.strategy}`);
    print(`  status page ${url}`);
    const view = await followDemo(world, deployment.id, print);
    ok = view === 'success' && (await checkReleases(world, deployment.sha, print));
    print(ok ? '\nDemo succeeded: both agents run the deployed commit.' : '\nDemo FAILED: see the status page and logs above.');
    if (options.keep) {
      if (ok) {
        ok = await leaveOneAtTheGate(world, print).catch((err: unknown) => {
          print(`  could not leave a deployment at the gate: ${(err as Error).message}`);
          return false;
        });
      }
      print(`\n--keep: everything keeps running. Press Ctrl-C to stop.`);
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
    if (options.keep) print(`Stopped. The files are left in ${world.root}`);
  }
  return ok;
}

/**
 * Adds the production environment (strategy `canary`: one server, then a manual gate) to the config repo, deploys
 * to it and waits until the rollout holds at the gate. True when it does.
 */
async function leaveOneAtTheGate(world: World, print: (line: string) => void): Promise<boolean> {
  print(`\nDeploying ${SAMPLE_REPOSITORY}@main to ${GATED_ENVIRONMENT} (strategy canary: one server, then a manual gate)…`);
  const path = `repositories/${SAMPLE_REPOSITORY}.yml`;
  const doc = parseDocument((await sampleConfigFiles(world.appGitUrl))[path]!);
  doc.setIn(['environments', GATED_ENVIRONMENT], { branch: 'main', group: 'web', strategy: 'canary' });
  const sha = await pushCommit(world.configRepo, { [path]: doc.toString() }, `${SAMPLE_REPOSITORY}: ${GATED_ENVIRONMENT}, behind a manual gate`);
  // A refresh already under way (the hub's timer) answers for the commit before this one: ask until it is in force.
  const configDeadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${world.hub.url}/api/v1/config/refresh`, { method: 'POST', headers: { authorization: `Bearer ${world.hub.adminToken}` } });
    const status = res.ok ? ((await res.json()) as { configRepos: Array<{ sha?: string; rejected?: { sha: string; errors: unknown[] } }> }).configRepos[0] : undefined;
    if (status?.sha === sha) break;
    if (status?.rejected?.sha === sha || Date.now() > configDeadline) {
      print(`  the hub did not take the new config: ${JSON.stringify(status?.rejected?.errors ?? status ?? res.status)}`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const { deployment, url } = await world.deploy({ environment: GATED_ENVIRONMENT });
  const deadline = Date.now() + 60_000;
  let view: DeploymentView | undefined;
  for (;;) {
    view = await world.viewDeployment(deployment.id);
    if (view?.deployment.gate?.manual || (view && FINAL_DEPLOYMENT_STATES.includes(view.deployment.state)) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!view?.deployment.gate?.manual) {
    print(`  it did not reach the gate: ${view ? `${view.deployment.state}: ${view.deployment.description}` : 'the hub does not answer'}`);
    return false;
  }
  const done = view.jobs.filter((j) => j.state === 'succeeded').map((j) => j.agentName ?? j.agentId);
  const waiting = world.agents.map((a) => a.name).filter((name) => !done.includes(name));
  print(`  deployment ${deployment.id} waits at its manual gate: ${done.join(', ')} runs the commit, ${waiting.join(', ')} waits`);
  print(`  status page ${url}`);
  print(`\nTry it: open the status page, Sign in with the admin token above, then press Continue rollout`);
  print(`(${waiting.join(', ')} follows) or Cancel deployment. Or from a shell:`);
  print(`  bitenvoy continue ${deployment.id} --hub ${world.hub.url} --token ${world.hub.adminToken}`);
  print(`  bitenvoy cancel ${deployment.id} --hub ${world.hub.url} --token ${world.hub.adminToken}`);
  return true;
}

async function followDemo(world: World, id: string, print: (line: string) => void): Promise<string> {
  const seen = new Set<string>();
  const deadline = Date.now() + 120_000;
  for (;;) {
    // The summary for the state, and the demo's few servers from their first page.
    const get = async <T>(path: string) => (await (await fetch(`${world.hub.url}/api/v1/deployments/${id}${path}`, { headers: { authorization: `Bearer ${world.hub.adminToken}` } })).json()) as T;
    const [view, page] = await Promise.all([get<DeploymentView>(''), get<ServerPage>('/servers?limit=200')]);
    for (const job of page.servers) {
      const line = `  ${job.agentName ?? job.agentId}: ${job.state}${job.step ? ` · step ${job.step.name} ${job.step.status}` : ''}`;
      if (!seen.has(line)) print(line);
      seen.add(line);
    }
    const state = view.deployment.state;
    if (FINAL_DEPLOYMENT_STATES.includes(state)) {
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
