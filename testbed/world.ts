/**
 * A whole BitEnvoy installation on this machine: git repositories served over real HTTP, a hub process on an
 * embedded SQLite file, and agent processes enrolled with one-time tokens. The demo, the end-to-end tests and the
 * benchmarks all stand on it.
 *
 * @example
 * const world = await startWorld({ agents: 2 });
 * const { deployment } = await world.deploy();
 * await world.close();
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeploymentRecord } from '../app/model.js';
import { readWholeDeployment, type WholeDeployment } from './read-whole-deployment.js';
import { ADMIN_API_PREFIX, FINAL_DEPLOYMENT_STATES } from '../lib/protocol.js';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { startGitHttpServer, type GitHttpServer } from './git-http-server.js';
// Type only: the stand-in loads devDependencies (GitHub's REST description, webhook examples), so it is imported only
// in GitHub mode, and the demo runs from a package installed without them.
import type { GitHubStandIn } from './github-stand-in.js';
import { createBareRepo } from './git-repos.js';
import { createEnrollTokenCli, runCli, startCli, startHubProcess, type CliProgram, type HubProcess, type ManagedProcess } from './processes.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY, sampleAppFiles, sampleConfigFiles } from './sample-app.js';

export interface WorldAgent {
  name: string;
  dir: string;
  process: ManagedProcess;
}

export interface World {
  root: string;
  /** The hub's BITENVOY_DATA_DIR. */
  dataDir: string;
  git: GitHttpServer;
  /** Bare repositories on disk (push to them with pushCommit). */
  configRepo: string;
  appRepo: string;
  appGitUrl: string;
  hub: HubProcess;
  agents: WorldAgent[];
  /**
   * A folder outside every release, in every agent's environment as MARKER_DIR: a step can leave a line there per run
   * (`echo … >> "$MARKER_DIR/runs"`), so a test sees a step that ran twice. Removed with the world.
   */
  markers: string;
  /** In GitHub mode: the GitHub stand-in the hub talks to (as GitHub Enterprise Server). */
  github?: GitHubStandIn;
  /** Creates a deployment through the admin API (default: the sample app's `main` to staging). */
  deploy(request?: { repository?: string; ref?: string; environment?: string }): Promise<{ deployment: DeploymentRecord; url: string }>;
  /**
   * The deployment as the admin API shows it now: its summary, with every server's job and log tail read page by page
   * (see read-whole-deployment.ts); undefined while the hub does not answer, e.g. restarting.
   */
  viewDeployment(id: string): Promise<DeploymentView | undefined>;
  /** Polls until job number `index` (in plan order) of the deployment is running a step. */
  waitForRunningJob(id: string, index: number, timeoutMs?: number): Promise<DeploymentView>;
  /** Polls the admin API until the deployment is final; returns its view. */
  waitForDeployment(id: string, timeoutMs?: number): Promise<DeploymentView>;
  /**
   * Kills the hub (SIGKILL by default) and starts it again on the same port and data dir. `whileStopped` runs between
   * the two (e.g. `bitenvoy store migrate`); `env` is added to the hub's environment from then on (e.g.
   * `BITENVOY_DATABASE_URL`, to move the same hub onto PostgreSQL).
   */
  restartHub(signal?: 'SIGKILL' | 'SIGTERM', options?: { env?: NodeJS.ProcessEnv; whileStopped?: () => Promise<void> }): Promise<void>;
  /** The hub's environment (what another replica of it needs: the same config repo, App and store settings). */
  readonly hubEnv: NodeJS.ProcessEnv;
  /** Starts (again) the agent process of `agents[i]`. */
  startAgent(i: number): ManagedProcess;
  close(): Promise<void>;
}

/** What {@link World.viewDeployment} returns: the summary and every server of a small test deployment. */
export type DeploymentView = WholeDeployment;

export interface WorldOptions {
  agents?: number;
  echo?: boolean;
  hubEnv?: NodeJS.ProcessEnv;
  agentEnv?: NodeJS.ProcessEnv;
  /** Files of the sample application's first commit. */
  appFiles?: Record<string, string | null>;
  strategy?: string;
  /**
   * `--allow-…` lists each agent enrolls with (they win over what the hub suggests for its agent.yml), e.g.
   * `{ branches: ['main', 'feature'] }` for agents that deploy a pull request's branch.
   */
  agentAllow?: { gitBaseUrls?: string[]; branches?: string[]; instructions?: string[] };
  /** What the agents run as instead of this Node with the built command line (e.g. the agent executable). */
  agentProgram?: CliProgram;
  /** Files to write into each agent's directory after it enrolled, before it starts (e.g. its own `agent.yml`). */
  agentFiles?: (name: string) => Record<string, string>;
  /** Config repo files that replace the starter's (e.g. a `strategies.yml` of the test's own). */
  configFiles?: Record<string, string>;
  /** `user:password` put into the config repo's and the application's git URLs (credentials must never be shown). */
  urlUserinfo?: string;
  /** Keep the temporary folder after close (for --keep). */
  keepFiles?: boolean;
  /**
   * GitHub mode: the hub runs as a GitHub App against a local GitHub stand-in; the config repo is the owner's
   * `.bitenvoy`, staging deploys automatically when `requiredChecks` pass, and git accepts only installation tokens.
   */
  github?: { requiredChecks?: string[] | 'all'; checksTimeout?: string };
}

/** The installation id of the sample owner's account in GitHub mode. */
export const WORLD_INSTALLATION_ID = 4242;

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const root = await mkdtemp(join(tmpdir(), 'bitenvoy-world-'));
  const gitRoot = join(root, 'git');
  await mkdir(gitRoot, { recursive: true });
  let github: GitHubStandIn | undefined;
  // In GitHub mode git answers only to installation tokens that name the repository, as GitHub does.
  const requireAuth = options.github
    ? (path: string, authorization: string | undefined) => {
        const repo = /^\/([^/]+\/[^/]+?)\.git\//.exec(path)?.[1];
        const basic = /^Basic (.+)$/.exec(authorization ?? '')?.[1];
        const token = basic ? Buffer.from(basic, 'base64').toString().split(':')[1] : undefined;
        return !repo || !token || !github?.tokenCanRead(token, repo);
      }
    : undefined;
  const git = await startGitHttpServer({ root: gitRoot, ...(requireAuth ? { requireAuth } : {}) });
  options = { ...options, echo: options.echo ?? process.env.BITENVOY_TESTBED_ECHO === '1' };
  const appRepo = await createBareRepo(gitRoot, SAMPLE_REPOSITORY, options.appFiles ?? sampleAppFiles('1'));
  const gitBase = options.urlUserinfo ? git.url.replace('://', `://${options.urlUserinfo}@`) : git.url;
  const appGitUrl = `${gitBase}/${SAMPLE_REPOSITORY}.git`;
  const owner = SAMPLE_REPOSITORY.split('/')[0]!;
  const configName = options.github ? `${owner}/.bitenvoy` : 'bitenvoy/.bitenvoy';
  const configFiles = { ...(await sampleConfigFiles(appGitUrl, { strategy: options.strategy, ...(options.github ? { github: options.github } : {}) })), ...options.configFiles };
  const configRepo = await createBareRepo(gitRoot, configName, configFiles);
  const dataDir = join(root, 'hub');
  const cleanup = async () => {
    await git.close();
    await github?.close();
    await rm(root, { recursive: true, force: true });
  };
  let hubEnv: NodeJS.ProcessEnv = { BITENVOY_CONFIG_REPO: `${gitBase}/${configName}.git`, BITENVOY_CONFIG_REFRESH_SECONDS: '2', ...options.hubEnv };
  if (options.github) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const webhookSecret = randomBytes(16).toString('hex');
    const { startGitHubStandIn } = await import('./github-stand-in.js');
    github = await startGitHubStandIn({ gitUrl: git.url, appId: '12345', privateKey, webhookSecret });
    github.addInstallation(owner, WORLD_INSTALLATION_ID);
    github.addRepository(SAMPLE_REPOSITORY, appRepo);
    github.addRepository(configName, configRepo);
    hubEnv = {
      APP_ID: '12345',
      PRIVATE_KEY: privateKey,
      WEBHOOK_SECRET: webhookSecret,
      GHE_HOST: github.host,
      GHE_PROTOCOL: 'http',
      // Sign in with GitHub against the stand-in's OAuth endpoints.
      GITHUB_CLIENT_ID: github.clientId,
      GITHUB_CLIENT_SECRET: github.clientSecret,
      BITENVOY_CHECKS_DEBOUNCE_SECONDS: '0.2',
      BITENVOY_CONFIG_REFRESH_SECONDS: '60',
      ...options.hubEnv,
    };
  }
  let hub = await startHubProcess({ dataDir, env: hubEnv, echo: options.echo }).catch(async (err: unknown) => {
    await cleanup();
    throw err;
  });
  if (github) github.webhookUrl = `${hub.url}/api/github/webhooks`;
  const agents: WorldAgent[] = [];
  const markers = join(root, 'markers');
  await mkdir(markers);
  const agentEnv = { MARKER_DIR: markers, ...options.agentEnv };
  const startAgent = (i: number): ManagedProcess => {
    const agent = agents[i]!;
    agent.process = startCli(agent.name, ['agent', 'run', '--dir', agent.dir], { env: agentEnv, echo: options.echo, ...(options.agentProgram ? { program: options.agentProgram } : {}) });
    return agent.process;
  };
  // In GitHub mode the stand-in serves git on another port than its API (GHE_HOST), where real GitHub serves both:
  // the agents pin the git server, as an owner would pin their GitHub Enterprise host.
  const allow = { ...(github ? { gitBaseUrls: [`${git.url}/`] } : {}), ...options.agentAllow };
  const allowArgs = [
    ...(allow.gitBaseUrls ? ['--allow-git-base-url', allow.gitBaseUrls.join(',')] : []),
    ...(allow.branches ? ['--allow-branches', allow.branches.join(',')] : []),
    ...(allow.instructions ? ['--allow-instructions', allow.instructions.join(',')] : []),
  ];
  for (let i = 1; i <= (options.agents ?? 2); i++) {
    const name = `web-${i}`;
    const dir = join(root, 'agents', name);
    // A hub on PostgreSQL keeps its store there, not in its data folder: the token comes through its admin API.
    const token = hubEnv.BITENVOY_DATABASE_URL
      ? (await runCli(['hub', 'token', 'create', '--hub', hub.url, '--token', hub.adminToken])).trim()
      : await createEnrollTokenCli(dataDir);
    // Enrollment writes each agent's agent.yml: the hub's git host and environment branches, unless allowArgs say.
    await runCli(['agent', 'enroll', '--hub', hub.url, '--token', token, '--dir', dir, '--name', name, '--labels', 'role=web', ...allowArgs], {}, undefined, options.agentProgram);
    for (const [file, text] of Object.entries(options.agentFiles?.(name) ?? {})) await writeFile(join(dir, file), text, { mode: 0o600 });
    agents.push({ name, dir, process: undefined as unknown as ManagedProcess });
    startAgent(agents.length - 1);
  }

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${hub.url}${ADMIN_API_PREFIX}${path}`, {
      method,
      headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  };

  const world: World = {
    root,
    dataDir,
    git,
    configRepo,
    appRepo,
    appGitUrl,
    get hub() {
      return hub;
    },
    agents,
    markers,
    ...(github ? { github } : {}),
    deploy: (request = {}) =>
      api('POST', '/deployments', {
        repository: request.repository ?? SAMPLE_REPOSITORY,
        ref: request.ref ?? 'main',
        environment: request.environment ?? SAMPLE_ENVIRONMENT,
      }),
    viewDeployment: (id) => readWholeDeployment((path) => api('GET', path), id).catch(() => undefined),
    async waitForRunningJob(id, index, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const view = await world.viewDeployment(id);
        if (view?.jobs[index]?.state === 'running') return view;
        if (Date.now() > deadline) throw new Error(`job ${index} of ${id} never started running: ${JSON.stringify(view?.jobs[index])}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async waitForDeployment(id, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let view: DeploymentView['deployment'] | undefined;
        try {
          // The small summary while waiting; every server once it is final.
          view = (await api<DeploymentView>('GET', `/deployments/${id}`)).deployment;
          if (FINAL_DEPLOYMENT_STATES.includes(view.state)) return await readWholeDeployment((path) => api('GET', path), id);
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
        if (Date.now() > deadline) {
          const agentLogs = agents.map((a) => `--- ${a.name} ---\n${a.process.output().slice(-3000)}`).join('\n');
          throw new Error(`deployment ${id} not final after ${timeoutMs} ms: ${JSON.stringify(view)}\n--- hub ---\n${hub.output().slice(-3000)}\n${agentLogs}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    get hubEnv() {
      return hubEnv;
    },
    async restartHub(signal = 'SIGKILL', restart = {}) {
      if (signal === 'SIGKILL') await hub.kill();
      else await hub.stop();
      await restart.whileStopped?.();
      hubEnv = { ...hubEnv, ...restart.env };
      hub = await startHubProcess({ dataDir, port: hub.port, env: hubEnv, echo: options.echo });
    },
    startAgent,
    async close() {
      await Promise.all(agents.map((a) => a.process?.stop(3000)));
      await hub.stop(3000);
      await git.close();
      await github?.close();
      if (!options.keepFiles) await rm(root, { recursive: true, force: true });
    },
  };
  return world;
}
