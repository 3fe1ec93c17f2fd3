/**
 * Starts a hub: store, config repo, rollout engine, agent and admin APIs, status pages, and the GitHub webhook
 * endpoint when the App's credentials are set.
 *
 * @example
 * const hub = await startHub(readHubSettings(process.env), { log });
 * // … later, on SIGTERM:
 * await hub.close();
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../lib/logger.js';
import { BitEnvoyError } from '../lib/errors.js';
import { version } from '../lib/package-root.js';
import { adminRoutes } from './api/admin-routes.js';
import { trustedProxies } from './api/client-address.js';
import { agentRoutes } from './api/agent-routes.js';
import { ADMIN_TOKEN_GUESSES, AGENT_CREDENTIAL_GUESSES, GuessLimiter } from './api/guess-limiter.js';
import { createPollHandler } from './api/poll-route.js';
import { listAudit } from './audit/audit-log.js';
import { listLocks } from './rollout/environment-locks.js';
import { ConfigRepo } from './config/config-repo.js';
import { ConfigRepos } from './config/config-repos.js';
import { suggestAllow } from './enroll/suggest-allow.js';
import type { HubSettings } from './hub-settings.js';
import { DashboardSessions } from './pages/dashboard-sessions.js';
import { deploymentActionRoutes } from './pages/deployment-action-routes.js';
import { deploymentPageRoutes } from './pages/deployment-page-routes.js';
import { environmentsPageRoutes } from './pages/environments-page-routes.js';
import { agentsPageRoutes } from './pages/agents-page-routes.js';
import { configPageRoutes } from './pages/config-page-routes.js';
import { signInRoutes } from './pages/sign-in-routes.js';
import { githubSignInRoutes } from './pages/github-sign-in-routes.js';
import { signInLinkRoutes } from './pages/sign-in-link-routes.js';
import { pageAccess } from './pages/page-access.js';
import { deployFormRoutes } from './pages/deploy-form-routes.js';
import { githubCandidates, localCandidates } from './pages/deploy-form-candidates.js';
import type { DeployThroughGitHub } from './api/roll-back-environment.js';
import { operatorExists } from './auth/operators.js';
import { operatorRoutes } from './auth/operator-routes.js';
import { RepositoryAccess } from './auth/repository-access.js';
import { SignInAttempts } from './auth/sign-in-attempts.js';
import { RolloutEngine } from './rollout/rollout-engine.js';
import { cachedCommitDescriber, describeOnGitHub, describeOverGit } from './rollout/describe-commit.js';
import { cachedInstructions, readInstructionsOnGitHub, readInstructionsOverGit } from './artifacts/read-instructions-at-commit.js';
import { artifactsBeforeDeploying, resolveArtifacts, type ArtifactResolvers, type ArtifactTarget } from './artifacts/resolve-artifacts.js';
import { githubArtifactResolver, githubAttestations } from './artifacts/resolve-github-artifact.js';
import type { ReadPermissions } from './github/repository-token.js';
import type { CloudService } from './cloud/cloud-service.js';
import type { LabelSelector } from '../config-schema/types.generated.js';
import { startGitHubRollback } from './github/start-rollback.js';
import { createAppFn } from './github/app.js';
import { AutoDeployer } from './github/auto-deploy.js';
import { deploysThroughGitHub, deployThroughGitHub } from './github/deploy-through-github.js';
import { onDeploymentCreated, type DeploymentCreatedPayload } from './github/on-deployment-created.js';
import { RepositoryTokens } from './github/repository-token.js';
import { GitHubOutbox } from './github/github-outbox.js';
import { CREATE_DEPLOYMENT_EFFECT, createDeploymentKind } from './github/create-deployment-effect.js';
import { PostRateLimit } from './github/post-rate-limit.js';
import { GitHubStatusReporter, type StatusOctokit } from './github/status-reporter.js';
import { listUnreportedGitHubDeployments } from './github/unreported-deployments.js';
import type { AgentRecord, DeploymentRecord } from './model.js';
import { createHttpServer, createKoa, createProbot, createWebhookHandler, LISTEN_BACKLOG } from './server.js';
import type { Probot } from 'probot';
import { startPruning } from './store/retention.js';
import { openStore } from './store/open-store.js';
import { schemaVersion as newestSchemaVersion } from './store/sql/migrations.js';
import { withDeadline } from '../lib/with-deadline.js';
import { HubMetrics } from './metrics/hub-metrics.js';
import { LeaderLease } from './store/leader-lease.js';
import { JobWatcher } from './jobs/job-watcher.js';
import { listenForMetrics, metricsRoutes } from './metrics/metrics-routes.js';
import { lostAfterMs } from './rollout/engine-context.js';

export interface RunningHub {
  url: string;
  server: Server;
  engine: RolloutEngine;
  metrics: HubMetrics;
  /** Where the metrics are when they have a port of their own (BITENVOY_METRICS_PORT). */
  metricsUrl?: string;
  close(): Promise<void>;
}

export async function startHub(settings: HubSettings, { log }: { log: Logger }): Promise<RunningHub> {
  const store = await openStore({
    dataDir: settings.dataDir,
    ...(settings.database ? { database: settings.database } : {}),
    onDatabaseError: (err) => log.warn({ err }, 'store: a PostgreSQL connection broke while idle; the next statement opens a new one'),
  });
  log.info({ store: store.location }, `store: ${store.location}`);
  const metrics = new HubMetrics({ store, lostAfterMs: lostAfterMs(settings) });
  store.db.observe = (operation, seconds) => metrics.storeOperation(operation, seconds);
  // Periodic work runs on one replica; a hub alone on its SQLite file leads from the start.
  const leader = new LeaderLease({ store, leaseMs: settings.leaderLeaseMs, log: log.child({ name: 'leader' }), alone: store.db.dialect === 'sqlite', onChange: (leading) => metrics.leaderChanged(leading) });
  const { wasFree } = await leader.start();
  const leading = () => leader.leading;
  const probot = createProbot(settings, log, metrics);
  const installationOctokit = async (installationId: number): Promise<StatusOctokit> => {
    if (!probot) throw new Error('GitHub App credentials are not set');
    return probot.auth(installationId);
  };
  // PORT=0 (tests, embedding) picks a free port: a default public URL can only name it once the server listens.
  let publicUrl = settings.publicUrl;
  const configs = openConfigRepos(settings, probot, installationOctokit, log);
  // Replicas on PostgreSQL fetch the config repo once fleet-wide: the leader on the timer, the others when it moved.
  if (store.db.dialect === 'postgres') configs.share({ store, leading });
  if (!settings.configRepo && !configs.perOwnerMode) {
    log.warn('no config repo: set BITENVOY_CONFIG_REPO to a git URL or path; deployments are refused until then');
  }
  // A config repo that cannot be read must not keep the hub down: /healthz shows why, and the timer retries.
  await configs.refresh().catch((err: unknown) => log.error({ err }, 'config repo: the first refresh failed; retrying on the timer'));
  await configs.start();

  // A repository's installation, for what people signed in with GitHub may see and do, the deploy page's commits and
  // a deployment's commit title: asked with the App's token, kept 10 minutes.
  const installationOf = new Map<string, { id: Promise<number | undefined>; until: number }>();
  // The installation's Octokit for a repository (undefined without the App, or when it is not installed there).
  const repositoryOctokit = async (repository: string): Promise<StatusOctokit | undefined> => {
    if (!probot) return undefined;
    const cached = installationOf.get(repository);
    let id = cached && cached.until > Date.now() ? cached.id : undefined;
    if (!id) {
      const [owner, repo] = repository.split('/') as [string, string];
      id = (async () => {
        const app = (await probot.auth()) as StatusOctokit;
        try {
          return ((await app.request('GET /repos/{owner}/{repo}/installation', { owner, repo })) as { data: { id: number } }).data.id;
        } catch (err) {
          if ((err as { status?: number }).status === 404) return undefined;
          throw err;
        }
      })();
      installationOf.set(repository, { id, until: Date.now() + 10 * 60_000 });
      id.catch(() => installationOf.delete(repository));
      if (installationOf.size > 10_000) installationOf.delete(installationOf.keys().next().value!);
    }
    const installation = await id;
    return installation === undefined ? undefined : installationOctokit(installation);
  };
  // Made after the engine (it starts deployments through it); the engine's onChange reaches it once it exists.
  const late: { auto?: AutoDeployer } = {};
  // One budget of 80 content-creating requests a minute per installation for everything the hub sends GitHub.
  // Replicas on PostgreSQL share it: GitHub counts the App's requests whichever replica sends them.
  const posts = new PostRateLimit({ sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()), ...(store.db.dialect === 'postgres' ? { shared: store } : {}) });
  const reporter = new GitHubStatusReporter({
    octokitFor: installationOctokit,
    log: log.child({ name: 'github-statuses' }),
    publicUrl: () => publicUrl,
    store,
    openDeployments: () => listUnreportedGitHubDeployments(store),
    posts,
  });
  // GitHub Deployments the hub creates, PR replies, reactions and config check runs: journalled in the store, sent in
  // the background. A created deployment's rollout is started by the same handler as the deployment.created webhook.
  const createDeployment = createDeploymentKind({ store, startDeployment: (payload, options) => startDeployment(payload, options) });
  const outbox = new GitHubOutbox({ store, octokitFor: installationOctokit, log: log.child({ name: 'github-outbox' }), posts, kinds: { [CREATE_DEPLOYMENT_EFFECT]: createDeployment } });
  // A commit's installation: the deployment's, or the repository's own where the plan names none (a plan previewed
  // on the deploy page names installation 0).
  const commitOctokit = (t: { installationId?: number; repository: string }) => (t.installationId ? installationOctokit(t.installationId) : repositoryOctokit(t.repository));
  const artifactResolvers: ArtifactResolvers = {
    readInstructions: cachedInstructions(probot ? readInstructionsOnGitHub(commitOctokit, readInstructionsOverGit) : readInstructionsOverGit),
    insecureRegistries: settings.insecureRegistries,
    ...(probot ? { github: githubArtifactResolver(commitOctokit), attestations: githubAttestations(commitOctokit) } : {}),
    onUnreadable: (target, err) =>
      log.warn({ err, repository: target.repository, sha: target.sha }, `could not read ${target.instructions} of ${target.sha.slice(0, 7)} to resolve its artifacts; the deployment goes ahead without them (an agent then names any it misses)`),
  };
  const resolveCommitArtifacts = (target: ArtifactTarget) => resolveArtifacts(artifactResolvers, target);
  const repositoryTokens = probot ? new RepositoryTokens(async () => (await probot.auth()) as StatusOctokit) : undefined;
  // Loaded only when configured: the cloud providers' SDKs (the EC2 client alone) cost an idle hub ~90 MB of RSS.
  const cloudModule = settings.cloud ? await import('./cloud/cloud-service.js') : undefined;
  const cloud: CloudService | undefined = settings.cloud && cloudModule ? await cloudModule.CloudService.start({ settings: settings.cloud, store, log: log.child({ name: 'cloud' }), leading }) : undefined;
  const engine = new RolloutEngine({
    store,
    log: log.child({ name: 'engine' }),
    settings,
    config: (repository) => configs.current(repository),
    onChange: (d) => {
      metrics.deploymentChanged(d);
      reporter.changed(d);
      // A commit live in an environment may be what a later environment's automatic deploy waits for (`after:`).
      if (d.state === 'success') void late.auto?.onLive(d.repository, d.environment).catch((err: unknown) => log.error({ err }, 'auto-deploy: looking at held deploys after a success failed'));
    },
    ...(repositoryTokens ? { gitCredentials: async (d: DeploymentRecord, permissions?: ReadPermissions) => (d.github ? repositoryTokens.get(d.github, permissions) : undefined) } : {}),
    ...(cloud ? { cloudFacts: (agents: AgentRecord[], selector?: LabelSelector) => cloud.facts(agents, selector) } : {}),
    onJobClaimed: (job) => metrics.jobClaimed(job.spec.createdAt),
    // Each deployment's commit title and author: from GitHub with the installation's token in GitHub mode (git over
    // the configured URL for a repository the App is not installed on), over git in local mode; kept per SHA.
    describeCommit: cachedCommitDescriber(
      probot ? describeOnGitHub(commitOctokit, describeOverGit) : describeOverGit,
      { log: log.child({ name: 'commit-info' }) },
    ),
    // The artifacts each deployment's commit declares, pinned when it is planned (with their build attestations): its instruction file read from GitHub
    // in GitHub mode (over git for a repository the App is not installed on), over git in local mode.
    resolveArtifacts: resolveCommitArtifacts,
    // Messages name the way to act that works here: pull-request commands only in GitHub mode.
    mode: settings.github ? 'github' : 'local',
    // A GitHub deployment's automatic rollback is made through GitHub, so it shows there like any deployment.
    startRollback: async (failed, plan) => {
      if (!failed.github || !probot) return void (await engine.startRollbackHere(failed, plan));
      const deps = { config: (repository: string) => configs.current(repository), outbox, publicUrl: () => publicUrl };
      await startGitHubRollback(deps, { ...failed, github: failed.github }, plan);
    },
  });
  const startDeployment = (payload: DeploymentCreatedPayload, options?: { refuseWith?: string }) =>
    onDeploymentCreated(payload, { engine, store, reporter, log: log.child({ name: 'github' }) }, options);
  // After startDeployment exists: a restart may have a planned rollback to start.
  await engine.start({ leading, extendLeases: wasFree });
  // Replicas on one PostgreSQL store: polls held here wake for jobs other replicas created, within a second.
  const watcher = store.db.dialect === 'postgres' ? new JobWatcher({ store, notifier: engine.notifier, log: log.child({ name: 'job-watcher' }) }) : undefined;
  if (watcher) {
    engine.notifier.publish = (deploymentId, batch, agentIds) => watcher.publish(deploymentId, batch, agentIds);
    await watcher.start();
  }
  const pruner = startPruning(store, settings.retention, log.child({ name: 'retention' }), undefined, leading);
  // Statuses the last run did not finish reporting (it was stopped, or GitHub failed): sent in the background.
  if (probot) await reporter.start().catch((err: unknown) => log.error({ err }, 'GitHub statuses: listing the deployments still owed a status failed; they are sent at the next start'));
  // Likewise the deployments, replies, reactions and check runs the last run left in the outbox.
  if (probot) await outbox.start().catch((err: unknown) => log.error({ err }, 'GitHub outbox: listing the effects the last run left failed; they are sent at the next start'));
  const auto = probot
    ? new AutoDeployer({
        store,
        configs,
        octokitFor: installationOctokit,
        outbox,
        log: log.child({ name: 'auto-deploy' }),
        debounceMs: settings.checksDebounceMs,
        publicUrl: () => publicUrl,
        alone: store.db.dialect === 'sqlite',
        artifactsPending: async ({ repository, sha, ref, installationId }) => {
          const repo = configs.current(repository)?.repositories[repository];
          if (!repo) return { artifacts: [] };
          return artifactsBeforeDeploying(() => resolveCommitArtifacts({ repository, sha, ref, installationId, gitUrl: repo.git ?? '', instructions: repo.instructions }));
        },
      })
    : undefined;
  if (auto) late.auto = auto;
  // The leader sweeps for commits due and claimed by nobody (their replica died); after an outage of the whole fleet
  // (the lease was free) every undecided commit is looked at again, as events may have been missed.
  await auto?.start({ leading, afterOutage: wasFree });

  const shutdown = new AbortController();
  const koa = createKoa(log);
  // Whose X-Forwarded-For is believed (see client-address.ts): every request's context carries it.
  const proxies = trustedProxies(settings.trustedProxies);
  Object.assign(koa.context, { trustedProxies: proxies });
  const agentSettings = { leaseSeconds: settings.leaseSeconds, heartbeatSeconds: settings.heartbeatSeconds, pollWaitSeconds: settings.pollWaitSeconds };
  const mode = settings.github ? 'github' : 'local';
  const sessions = new DashboardSessions({ store, adminToken: settings.adminToken, publicUrl: () => publicUrl, operatorExists: (name, id) => operatorExists(store, name, id) });
  const access = new RepositoryAccess({
    environments: (repository) => configs.current(repository)?.repositories[repository]?.environments,
    log: log.child({ name: 'dashboard-access' }),
    octokitFor: repositoryOctokit,
  });
  // Failed GitHub callbacks and one-time links: one limit for both.
  const signInAttempts = new SignInAttempts();
  if (settings.githubSignIn && !settings.github) log.warn('GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are set, but the hub runs in local mode: Sign in with GitHub stays off until APP_ID, PRIVATE_KEY and WEBHOOK_SECRET are set too');
  if (settings.github && !settings.githubSignIn) {
    log.warn('Sign in with GitHub is off: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (the App\'s client id and a client secret) so people sign in to the status pages as themselves; until then only the admin token signs in');
  }
  // The sign-in page and the admin API guess the same token: one limit of wrong guesses for both.
  const adminGuesses = new GuessLimiter(ADMIN_TOKEN_GUESSES);
  // The long poll is answered below Koa (api/poll-route.ts); wrong credentials count once whichever route they hit.
  const agentGuesses = new GuessLimiter(AGENT_CREDENTIAL_GUESSES);
  const poll = createPollHandler({ store, engine, settings: agentSettings, shutdown: shutdown.signal, guesses: agentGuesses, log, trustedProxies: proxies, held: (delta) => metrics.pollHeld(delta) });
  // GitHub mode, a repository configured without `git:`: deployments asked for here (admin API, status pages) are GitHub Deployments.
  const deployThroughGitHubHere: DeployThroughGitHub | undefined = probot
    ? (req, actor, options) =>
        deploysThroughGitHub(configs.current(req.repository), req.repository)
          ? deployThroughGitHub({ store, config: (r) => configs.current(r), appOctokit: async () => (await probot.auth()) as StatusOctokit, octokitFor: installationOctokit, outbox, publicUrl: () => publicUrl }, req, actor, options)
          : undefined
    : undefined;
  const routers = [
    agentRoutes({
      store,
      engine,
      settings: agentSettings,
      guesses: agentGuesses,
      suggestAllow: () => suggestAllow({ ...(settings.github ? { github: settings.github } : {}), configs: configs.inForce() }),
      ...(cloud ? { cloud } : {}),
    }),
    adminRoutes({
      store,
      engine,
      adminToken: settings.adminToken,
      guesses: adminGuesses,
      publicUrl: () => publicUrl,
      refreshConfig: () => configs.refresh(),
      shutdown: shutdown.signal,
      ...(cloud ? { cloud } : {}),
      configs,
      mode,
      log: log.child({ name: 'admin-api' }),
      ...(auto ? { onUnlocked: (repository: string, environment: string | undefined) => auto.onUnlock(repository, environment) } : {}),
      ...(deployThroughGitHubHere ? { deployThroughGitHub: deployThroughGitHubHere } : {}),
    }),
    environmentsPageRoutes({ store, configs, sessions, ...(probot ? { access } : {}) }),
    ...[agentsPageRoutes, configPageRoutes].map((routes) =>
      routes({
        store,
        configs,
        sessions,
        heartbeatSeconds: settings.heartbeatSeconds,
        ...(probot ? { access } : {}),
        ...(cloud && settings.cloud ? { cloud: { scopes: () => cloud.scopes(), staleAfterMs: settings.cloud.staleAfterMs } } : {}),
      }),
    ),
    deploymentPageRoutes({
      store,
      engine,
      shutdown: shutdown.signal,
      clock: { now: () => Date.now(), leaseMs: settings.leaseSeconds * 1000 },
      configStatus: () => configs.statuses(),
      configs,
      safety: { locks: () => listLocks(store), recentActions: () => listAudit(store, { limit: 20 }), ...(cloud ? { cloudFacts: (agents: AgentRecord[]) => cloud.facts(agents) } : {}) },
      sessions,
      ...(probot ? { access } : {}),
    }),
    signInRoutes(sessions, settings.adminToken, { guesses: adminGuesses, github: Boolean(probot && settings.githubSignIn) }),
    ...(probot && settings.githubSignIn ? [githubSignInRoutes({ store, sessions, settings: settings.githubSignIn, publicUrl: () => publicUrl, attempts: signInAttempts })] : []),
    signInLinkRoutes({ store, sessions, attempts: signInAttempts }),
    operatorRoutes({ store, adminToken: settings.adminToken, guesses: adminGuesses, publicUrl: () => publicUrl }),
    // Without a metrics port of its own, /metrics is here, behind the admin token.
    ...(settings.metrics ? [] : [metricsRoutes(metrics, { adminToken: settings.adminToken, guesses: adminGuesses })]),
    deploymentActionRoutes({ store, engine, sessions, access, ...(deployThroughGitHubHere ? { deployThroughGitHub: deployThroughGitHubHere } : {}) }),
    deployFormRoutes({
      store,
      engine,
      sessions,
      ...(probot ? { access } : {}),
      mode,
      config: (repository) => configs.current(repository),
      candidates: probot ? githubCandidates(repositoryOctokit) : localCandidates(),
      ...(deployThroughGitHubHere ? { deployThroughGitHub: deployThroughGitHubHere } : {}),
      ...(auto ? { onUnlocked: (repository: string, environment: string | undefined) => auto.onUnlock(repository, environment) } : {}),
      log: log.child({ name: 'deploy-page' }),
    }),
  ];
  koa.use(async (ctx, next) => {
    // Liveness: the process answers. Nothing else is asked, so a restart is never triggered by a config problem.
    if (ctx.path === '/livez') {
      ctx.body = { ok: true, version };
      return;
    }
    // Readiness, for a load balancer: this replica can serve — the store answers (within 2 s) with the schema this
    // release knows, a config is in force, and it is not shutting down.
    if (ctx.path === '/readyz') {
      const problem = draining ? 'shutting down: send requests to another replica' : await notReady();
      ctx.status = problem ? 503 : 200;
      ctx.body = { ok: !problem, version, ...(problem ? { problem } : {}) };
      return;
    }
    // Health: 503 while no config is in force, since nothing can be deployed; the body says why.
    if (ctx.path === '/healthz') {
      const configRepos = configs.statuses();
      const inForce = configRepos.some((c) => c.sha !== undefined);
      ctx.status = inForce ? 200 : 503;
      ctx.body = {
        ok: inForce,
        version,
        mode,
        ...(inForce ? {} : { problem: noConfigProblem(configRepos.length, mode) }),
        configRepos,
        ...(cloud && cloudModule ? { cloud: cloudModule.describeScopes(cloud.scopes()) } : {}),
      };
      return;
    }
    await next();
  });
  // BITENVOY_DASHBOARD_PUBLIC=false: every page needs a sign-in, and shows only what the person may read.
  koa.use(pageAccess({ store, sessions, access, isPublic: settings.dashboardPublic }));
  for (const router of routers) koa.use(router.routes()).use(router.allowedMethods());

  const webhook = await createWebhookHandler(probot, createAppFn({
      engine,
      store,
      reporter,
      configs,
      ...(auto ? { auto } : {}),
      octokitFor: installationOctokit,
      publicUrl: () => publicUrl,
      outbox,
      commands: { store, engine, configs, octokitFor: installationOctokit, outbox, log, publicUrl: () => publicUrl, ...(auto ? { onUnlocked: (repository: string, environment: string | undefined) => auto.onUnlock(repository, environment) } : {}) },
    }), settings, log, metrics, store);
  const server = createHttpServer({ koa, webhook, webhookPath: settings.webhookPath, poll });
  let metricsServer: Server | undefined;
  try {
    await listen(server, settings);
    if (settings.metrics) metricsServer = await listenForMetrics(metrics, settings.metrics, log);
  } catch (err) {
    server.close();
    // Nothing may keep running (timers, the open SQLite file) when the hub could not start.
    engine.stop();
    await watcher?.stop();
    pruner.stop();
    reporter.close();
    outbox.close();
    auto?.stop();
    configs.stop();
    cloud?.stop();
    await leader.stop();
    await store.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const metricsUrl = metricsServer ? `http://${settings.metrics?.host && settings.metrics.host !== '0.0.0.0' ? settings.metrics.host : 'localhost'}:${(metricsServer.address() as AddressInfo).port}/metrics` : undefined;
  if (metricsUrl) log.info(`Prometheus metrics at ${metricsUrl}`);
  const url = `http://${settings.host && settings.host !== '0.0.0.0' ? settings.host : 'localhost'}:${port}`;
  if (settings.port === 0 && publicUrl.endsWith(':0')) publicUrl = url;
  if (mode === 'local') {
    if (settings.githubMissing?.length) log.warn(`GitHub App settings are incomplete, so GitHub stays off: ${settings.githubMissing.join(', ')} not set`);
    log.info(`BitEnvoy hub ${version} listening on ${url} in LOCAL MODE (no GitHub): set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET to connect a GitHub App`);
  } else {
    log.info(`BitEnvoy hub ${version} listening on ${url} in GitHub mode; webhooks at ${settings.webhookPath}`);
  }

  let closing: Promise<void> | undefined;
  let draining = false;
  const schemaVersion = newestSchemaVersion();
  /** Why this replica cannot serve now, or undefined. */
  async function notReady(): Promise<string | undefined> {
    try {
      const row = await withDeadline(store.db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations'), 2000, 'the store');
      if (Number(row?.v) !== schemaVersion) return `the store's schema is version ${row?.v}, this release runs version ${schemaVersion}: run the same release on every replica`;
    } catch (err) {
      return `the store does not answer: ${(err as Error).message}`;
    }
    if (!configs.statuses().some((c) => c.sha !== undefined)) return noConfigProblem(configs.statuses().length, mode);
    return undefined;
  }
  return {
    url,
    server,
    engine,
    metrics,
    ...(metricsUrl ? { metricsUrl } : {}),
    // Idempotent: SIGTERM and a caller's own cleanup may both ask.
    close() {
      closing ??= (async () => {
        // First out of the load balancer (readiness fails), still serving; then the polls are handed back.
        draining = true;
        if (settings.drainMs > 0) {
          log.info(`draining: /readyz answers 503 for ${settings.drainMs / 1000} s, then the long polls are handed back`);
          await new Promise((resolve) => setTimeout(resolve, settings.drainMs));
        }
        // No new connections from here on (a load balancer sends them to another replica); requests on open ones are
        // still answered. Then the held polls are handed back on closed connections: each agent's next poll opens a
        // new connection, which can no longer land here.
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        shutdown.abort();
        engine.stop();
        await watcher?.stop();
        pruner.stop();
        // What is still owed to GitHub is in the store: the next start sends it.
        reporter.close();
        outbox.close();
        auto?.stop();
        configs.stop();
        cloud?.stop();
        metricsServer?.close();
        metricsServer?.closeAllConnections();
        // Handed back at once: another replica leads at its next renewal instead of after a whole lease.
        await leader.stop();
        // Long polls just answered 204 leave keep-alive sockets behind: close each as soon as it goes idle, and cut
        // whatever is still busy after 2 s.
        const idle = setInterval(() => server.closeIdleConnections(), 25);
        const cut = setTimeout(() => server.closeAllConnections(), 2000);
        server.closeIdleConnections();
        await stopped;
        clearInterval(idle);
        clearTimeout(cut);
        await store.close();
      })();
      return closing;
    },
  };
}

/** Why /healthz says `ok: false`: no config repo, none loaded yet, or (GitHub mode) no installation with one. */
function noConfigProblem(repos: number, mode: 'github' | 'local'): string {
  if (repos > 0) return 'no config is in force: no commit of the config repo has loaded and validated yet; configRepos says why';
  return mode === 'github'
    ? 'no config is in force: no installation of the App has a config repo yet (create `.bitenvoy` in the organisation and install the App on it), or set BITENVOY_CONFIG_REPO'
    : 'no config is in force: set BITENVOY_CONFIG_REPO to the config repo (a git URL or path)';
}

function listen(server: Server, settings: HubSettings): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${settings.host ?? 'all interfaces'} port ${settings.port}`;
      if (err.code === 'EADDRINUSE') reject(new BitEnvoyError('BE_USAGE', `cannot listen on ${where}: it is in use by another process; stop it or set PORT to a free port`));
      else if (err.code === 'EACCES') reject(new BitEnvoyError('BE_USAGE', `cannot listen on ${where}: permission denied; use a port above 1023 or grant the capability`));
      else reject(err);
    });
    server.listen({ port: settings.port, host: settings.host, backlog: LISTEN_BACKLOG }, () => resolve());
  });
}

/** BITENVOY_CONFIG_REPO wins in both modes; in GitHub mode without it, every installation owner has its own. */
function openConfigRepos(settings: HubSettings, probot: Probot | undefined, installation: (id: number) => Promise<StatusOctokit>, log: Logger): ConfigRepos {
  const workDir = join(settings.dataDir, 'config-repo');
  const configLog = log.child({ name: 'config' });
  if (settings.configRepo || !probot) {
    return ConfigRepos.single(
      settings.configRepo
        ? new ConfigRepo({ source: settings.configRepo, branch: settings.configBranch, workDir, refreshSeconds: settings.configRefreshSeconds, log: configLog })
        : undefined,
    );
  }
  return ConfigRepos.perOwner({
    github: { app: async () => (await probot.auth()) as StatusOctokit, installation },
    repoName: settings.configRepoName,
    branch: settings.configBranch,
    workDir: join(settings.dataDir, 'config-repos'),
    refreshSeconds: settings.configRefreshSeconds,
    log: configLog,
  });
}

