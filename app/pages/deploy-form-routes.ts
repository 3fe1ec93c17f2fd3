/**
 * The deploy page of an environment and its actions, for people signed in to the status pages:
 * `GET /environments/:owner/:repo/:environment/deploy` lists candidates (the branch's recent commits and earlier
 * successful deployments, each with its checks) and, with `?sha=` (and `&rollback=1`), the plan the deployment would
 * get and what would block it — the same evaluation as `/deploy --dry-run`; `POST …/deploy` confirms it,
 * `POST …/rollback` rolls back to an earlier success, `POST …/lock` (with a reason) and `POST …/unlock` lock and unlock.
 *
 * Every post is guarded as the deployment page's buttons are (same origin, session, CSRF token, and for a person
 * signed in with GitHub write access narrowed by `deployers`, asked afresh), passes the guard rails PR commands pass
 * (lock, promotion order, green checks in GitHub mode — or, for the environment's `forceUsers`, a confirmed "Deploy
 * anyway (forced)" as `/deploy --force`), goes the way every deployment goes (the engine, or a GitHub Deployment in
 * GitHub mode) and is audited under the person's name. A refusal is a page saying why.
 *
 * @example
 * koa.use(deployFormRoutes({ store, engine, sessions, access, mode: 'local', config: (r) => configs.current(r), candidates: localCandidates() }).routes());
 */
import { Router } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { parseDuration } from '../../lib/parse-duration.js';
import { rollBackEnvironment, type DeployThroughGitHub } from '../api/roll-back-environment.js';
import { recordAudit } from '../audit/audit-log.js';
import type { RepositoryAccess } from '../auth/repository-access.js';
import type { ConfigInForce } from '../config/config-repo.js';
import { howToUnlock, type HubMode } from '../rollout/action-hints.js';
import { activeLock, describeLock, releaseLock, takeLock } from '../rollout/environment-locks.js';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import { latestSuccessful, successfulDeployments } from '../store/deployment-queries.js';
import type { Store } from '../store/store.js';
import { actorOf, type DashboardSession, type DashboardSessions } from './dashboard-sessions.js';
import type { CandidateSource } from './deploy-form-candidates.js';
import { forceConfirmed } from './deploy-form-force.js';
import { deployPageHtml, type DeployPageView } from './deploy-form-html.js';
import { checksOf, deployBlockers, readPlan, unreadable, type Target } from './deploy-form-plan.js';
import { page, setPrivatePageHeaders } from './html.js';
import { requireCsrfToken, requireSameOrigin, requireSession, sessionOf } from './page-guards.js';
import { renderErrorsAsPages } from './render-errors-as-pages.js';
import { readSessionCookie } from './session-cookie.js';

/** Earlier successful deployments the page lists (an index read of the newest ones). */
const EARLIER_SHOWN = 10;
const SHA = /^[0-9a-f]{40}$/;
const MAX_REASON = 200;

export interface DeployFormDeps {
  store: Store;
  engine: RolloutEngine;
  sessions: DashboardSessions;
  /** What people signed in with GitHub may see and do (GitHub mode). */
  access?: RepositoryAccess;
  mode: HubMode;
  config: (repository: string) => ConfigInForce | undefined;
  candidates: CandidateSource;
  /** GitHub mode, a repository without `git:`: deployments are GitHub Deployments (as the admin API makes them). */
  deployThroughGitHub?: DeployThroughGitHub;
  /** After an unlock: automatic deploys the lock held back look at their branch again (as after `/unlock`). */
  onUnlocked?: (repository: string, environment: string | undefined) => Promise<string[]>;
  log?: Logger;
}

export function deployFormRoutes(deps: DeployFormDeps): Router {
  const router = new Router({ prefix: '/environments/:owner/:repo/:environment' });
  const guards = [backToDeployPage, renderErrorsAsPages, requireSameOrigin(deps.sessions), requireSession(deps.sessions), requireCsrfToken, mayChange(deps)];

  router.get('/deploy', backToDeployPage, renderErrorsAsPages, async (ctx) => {
    const target = targetOf(deps, ctx);
    const session = await deps.sessions.find(readSessionCookie(ctx));
    if (session && deps.access && !(await deps.access.canView(session.who, target.repository))) {
      throw new BitEnvoyError('BE_NOT_FOUND', `no environment \`${target.environment}\` of ${target.repository} you can see: either there is none, or your GitHub account cannot read the repository`);
    }
    setPrivatePageHeaders(ctx);
    ctx.type = 'html';
    ctx.body = page(`Deploy ${target.environment}`, deployPageHtml(await readView(deps, ctx, target, session)).toString());
  });

  router.post('/deploy', ...guards, async (ctx) => {
    const target = targetOf(deps, ctx);
    const { who } = sessionOf(ctx);
    const actor = actorOf(who);
    const form = ctx.state.form as URLSearchParams;
    const sha = shaOf(form);
    const wantsForce = form.get('force') === '1';
    // Checks asked afresh: the page may be older than a re-run that failed (or one that passed: then nothing is forced).
    const { refusals, hold } = await deployBlockers(deps, target, sha, false, true, who);
    const blockers = hold && !(hold.mayForce && wantsForce) ? [...refusals, hold.refusal] : refusals;
    if (!blockers.length && hold && !forceConfirmed(form, sha)) blockers.push(`deploying it anyway needs your confirmation: tick the box naming its checks (${hold.checks}), then "Deploy anyway (forced)"`);
    if (blockers.length) {
      await audit(deps, actor, target, { action: 'deploy', sha, outcome: 'refused', detail: blockers.join('; ') });
      throw new BitEnvoyError('BE_GUARD_RAIL', `cannot deploy \`${sha.slice(0, 7)}\` to \`${target.environment}\`: ${blockers.join('; ')}`, { details: { refusals: blockers } });
    }
    // Past here a hold means one of the forceUsers confirmed deploying past it: forced, as `/deploy --force` is.
    const forced = hold !== undefined;
    const req = { repository: target.repository, ref: sha, environment: target.environment };
    const description = `BitEnvoy: deployed from the status page by ${actor}${forced ? ' (forced)' : ''}`;
    const answer =
      (await deps.deployThroughGitHub?.(req, actor, { description, trigger: 'dashboard', ...(forced ? { forced } : {}), ...(who.kind === 'github' ? { person: who.login } : {}) })) ??
      (await deps.engine.createDeployment(req, actor, { trigger: 'dashboard', ...(forced ? { forced } : {}) }));
    const outcome = 'queued' in answer ? 'queued' : answer.state === 'error' ? 'error' : 'started';
    const detail = [hold && `forced past checks that are not green (${hold.checks})`, 'queued' in answer ? answer.message : answer.state === 'error' && answer.description].filter(Boolean).join('; ');
    await audit(deps, actor, target, { action: 'deploy', sha, outcome, deploymentId: answer.id, ...(forced ? { forced } : {}), ...(detail ? { detail } : {}) });
    seeOther(ctx, `/deployments/${encodeURIComponent(answer.id)}`);
  });

  router.post('/rollback', ...guards, async (ctx) => {
    const target = targetOf(deps, ctx);
    const actor = actorOf(sessionOf(ctx).who);
    const to = (ctx.state.form as URLSearchParams).get('to') ?? '';
    if (!/^dep_[\w-]{1,64}$/.test(to)) throw new BitEnvoyError('BE_BAD_REQUEST', 'the form names no earlier deployment to roll back to; pick one on the deploy page');
    try {
      const { answer } = await rollBackEnvironment(deps, { repository: target.repository, environment: target.environment, to, actor, via: `rollback from the status page by ${actor}` });
      seeOther(ctx, `/deployments/${encodeURIComponent(answer.id)}`);
    } catch (err) {
      if (err instanceof BitEnvoyError) await audit(deps, actor, target, { action: 'rollback', outcome: 'refused', detail: err.message });
      throw err;
    }
  });

  router.post('/lock', ...guards, async (ctx) => {
    const target = targetOf(deps, ctx);
    const actor = actorOf(sessionOf(ctx).who);
    const reason = ((ctx.state.form as URLSearchParams).get('reason') ?? '').trim();
    if (!reason) throw new BitEnvoyError('BE_BAD_REQUEST', 'say why the environment is locked: the reason is shown to everyone whose deployment it refuses');
    if (reason.length > MAX_REASON) throw new BitEnvoyError('BE_BAD_REQUEST', `the reason is ${reason.length} characters long; keep it to ${MAX_REASON}`);
    const now = Date.now();
    const expiresAt = target.env.lockTimeout === undefined ? undefined : new Date(now + parseDuration(target.env.lockTimeout, 'lockTimeout')).toISOString();
    const { taken, lock } = await takeLock(deps.store, { repository: target.repository, environment: target.environment, by: actor, reason, at: new Date(now).toISOString(), ...(expiresAt ? { expiresAt } : {}) }, now);
    if (!taken) {
      await audit(deps, actor, target, { action: 'lock', outcome: 'refused', detail: describeLock(lock) });
      throw new BitEnvoyError('BE_CONFLICT', `${describeLock(lock)}; unlock it first`);
    }
    await audit(deps, actor, target, { action: 'lock', outcome: 'locked', detail: `by ${actor}: ${reason}` });
    seeOther(ctx, `${target.path}?done=locked`);
  });

  router.post('/unlock', ...guards, async (ctx) => {
    const target = targetOf(deps, ctx);
    const actor = actorOf(sessionOf(ctx).who);
    const released = await releaseLock(deps.store, target.repository, target.environment);
    if (!released) {
      const global = await activeLock(deps.store, target.repository, target.environment);
      throw new BitEnvoyError('BE_CONFLICT', `\`${target.environment}\` of ${target.repository} is not locked by its own lock${global ? `; a global lock holds it: ${howToUnlock(deps.mode, global)}` : ''}`);
    }
    await audit(deps, actor, target, { action: 'unlock', outcome: 'unlocked', detail: `lock by ${released.by}${released.reason ? `: ${released.reason}` : ''}; unlocked by ${actor}` });
    // Automatic deploys the lock held back look at their branch again, as after `/unlock`; the unlock stands anyway.
    await (deps.onUnlocked?.(target.repository, target.environment) ?? Promise.resolve([])).catch((err: unknown) => {
      deps.log?.error({ err }, 'after an unlock from the status page: looking at held-back automatic deploys failed');
    });
    seeOther(ctx, `${target.path}?done=unlocked`);
  });

  return router;
}

/** The configured environment the path names; 404 with the known ones otherwise. */
function targetOf(deps: DeployFormDeps, ctx: Context): Target {
  const { owner, repo, environment } = ctx.params as Record<string, string>;
  const repository = `${owner}/${repo}`;
  const config = deps.config(repository)?.repositories[repository];
  if (!config) throw new BitEnvoyError('BE_NOT_FOUND', `repository \`${repository}\` is not configured: add repositories/${repository}.yml to the config repo`);
  const env = config.environments[environment!];
  if (!env) throw new BitEnvoyError('BE_NOT_FOUND', `${repository} has no environment \`${environment}\`; its environments: ${Object.keys(config.environments).join(', ')}`);
  return { repository, environment: environment!, env, gitUrl: config.git, path: deployPath(repository, environment!) };
}

export function deployPath(repository: string, environment: string): string {
  return `/environments/${repository.split('/').map(encodeURIComponent).join('/')}/${encodeURIComponent(environment)}/deploy`;
}

/** A refusal page links back to the deploy page it came from. */
async function backToDeployPage(ctx: Context, next: Next): Promise<void> {
  const { owner, repo, environment } = ctx.params as Record<string, string>;
  ctx.state.errorBack = { href: deployPath(`${owner}/${repo}`, environment!), label: 'the deploy page' };
  await next();
}

/** The signed-in person may act on the environment: 403 saying why not (GitHub is asked afresh). */
function mayChange(deps: DeployFormDeps): Middleware {
  return async (ctx, next) => {
    const { who } = sessionOf(ctx);
    if (who.kind === 'github') {
      const target = targetOf(deps, ctx);
      const why = deps.access ? await deps.access.whyNotChange(who, target, { fresh: true }) : 'this hub cannot ask GitHub what you may do';
      if (why) {
        await audit(deps, who.login, target, { action: 'refused', outcome: 'refused', detail: `${ctx.path.split('/').pop()}: ${why}` });
        throw new BitEnvoyError('BE_FORBIDDEN', `refused: ${why}`);
      }
    }
    await next();
  };
}

function shaOf(form: URLSearchParams): string {
  const sha = (form.get('sha') ?? '').toLowerCase();
  if (!SHA.test(sha)) throw new BitEnvoyError('BE_BAD_REQUEST', 'the form names no full 40-character commit SHA; pick a commit on the deploy page');
  return sha;
}

async function readView(deps: DeployFormDeps, ctx: Context, target: Target, session: DashboardSession | undefined): Promise<DeployPageView> {
  const { store } = deps;
  const query = ctx.query;
  const pageNumber = typeof query.page === 'string' && /^\d{1,2}$/.test(query.page) ? Math.max(1, Number(query.page)) : 1;
  const [lock, current, earlier, promoteFrom] = await Promise.all([
    activeLock(store, target.repository, target.environment),
    latestSuccessful(store, target.repository, target.environment),
    successfulDeployments(store, target.repository, target.environment, EARLIER_SHOWN),
    target.env.after ? latestSuccessful(store, target.repository, target.env.after) : Promise.resolve(undefined),
  ]);
  let commits: DeployPageView['commits'];
  try {
    const listed = await deps.candidates.recentCommits({ repository: target.repository, gitUrl: target.gitUrl, branch: target.env.branch, page: pageNumber });
    commits = { ...listed, checks: await Promise.all(listed.commits.map((c) => checksOf(deps, target, c.sha).catch(unreadable))) };
  } catch (err) {
    if (!(err instanceof BitEnvoyError)) throw err;
    commits = { commits: [], more: false, checks: [], problem: err.message };
  }
  const earlierChecks = await Promise.all(earlier.map((d) => checksOf(deps, target, d.sha).catch(unreadable)));
  const refusal = session && deps.access ? await deps.access.whyNotChange(session.who, target) : undefined;
  const sha = typeof query.sha === 'string' ? query.sha.toLowerCase() : undefined;
  const plan = sha && SHA.test(sha) ? await readPlan(deps, target, sha, query.rollback === '1' ? current : undefined, earlier, session?.who) : undefined;
  return {
    repository: target.repository,
    environment: target.environment,
    branch: target.env.branch,
    path: target.path,
    mode: deps.mode,
    ...(target.env.after ? { after: target.env.after } : {}),
    ...(promoteFrom ? { promoteFrom } : {}),
    ...(lock ? { lock: describeLock(lock) } : {}),
    ...(current ? { current } : {}),
    page: pageNumber,
    commits,
    earlier: earlier.map((d, i) => ({ deployment: d, checks: earlierChecks[i]! })),
    ...(plan ? { plan } : {}),
    ...(session ? { session } : {}),
    ...(refusal ? { refusal } : {}),
    ...(typeof query.done === 'string' ? { done: query.done } : {}),
  };
}

async function audit(
  deps: DeployFormDeps,
  actor: string,
  target: Target,
  entry: { action: 'deploy' | 'rollback' | 'lock' | 'unlock' | 'refused'; sha?: string; outcome: string; deploymentId?: string; detail?: string; forced?: boolean },
): Promise<void> {
  await recordAudit(deps.store, { actor, repository: target.repository, environment: target.environment, ...entry });
}

/** 303, so the browser follows with a GET and a reload does not post the form again. */
function seeOther(ctx: Context, to: string): void {
  ctx.redirect(to);
  ctx.status = 303;
}
