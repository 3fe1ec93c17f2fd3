/**
 * Checks a deployment request against the config in force, resolves its ref, reads its commit's title and author,
 * resolves the artifacts its instruction file declares, picks the agents of the environment's group and plans the
 * batches. Pure of side effects but for `git ls-remote`, the commit lookup and the artifact lookups: the engine stores
 * the result.
 */
import { randomBytes } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { CreateDeploymentRequest, JobArtifact } from '../../lib/protocol.js';
import type { ArtifactTarget } from '../artifacts/resolve-artifacts.js';
import type { DeploymentRecord } from '../model.js';
import type { DescribeCommit } from './describe-commit.js';
import { truncate } from './describe-deployment.js';
import { isAgentOnline, isoNow, listAllAgents, type EngineContext } from './engine-context.js';
import { planRollout, rollbackStrategy, rolloutPolicy } from './plan-rollout.js';
import { CLOUD_LABEL_PREFIX } from '../cloud/cloud-facts.js';
import { describeSelector, selectWithFacts } from './select-agents.js';

export type ResolveRef = (gitUrl: string, ref: string) => Promise<string>;

/**
 * How a plan reads git: the ref to a SHA (required), the commit's title and author (optional, never fatal), and the
 * artifacts its instruction file declares (an artifact that cannot be had makes the deployment an `error`).
 */
export interface CommitReaders {
  resolveRef: ResolveRef;
  describeCommit?: DescribeCommit | undefined;
  resolveArtifacts?: ((target: ArtifactTarget) => Promise<JobArtifact[]>) | undefined;
}

/**
 * Where a deployment came from: its GitHub Deployment, the rollout id chosen up front (auto-deploy, commands,
 * rollbacks), the deployment it rolls back, and for an automatic rollback the only servers it goes to.
 */
export type DeploymentLink = Pick<DeploymentRecord, 'github' | 'forced' | 'rollbackOf' | 'trigger'> & { id?: string; onlyAgents?: string[] };

/**
 * Builds the deployment record for a request: `queued` with its batches, or `error` with the reason when no agent
 * of the group can run it. Throws 503 without a config, 422 for an unknown repository, environment or ref.
 *
 * @example
 * const dep = await planDeployment(ctx, { resolveRef, describeCommit }, { repository: 'acme/shop', ref: 'main', environment: 'staging' }, 'cli');
 */
export async function planDeployment(
  ctx: EngineContext,
  { resolveRef, describeCommit, resolveArtifacts }: CommitReaders,
  req: CreateDeploymentRequest,
  createdBy: string,
  link: DeploymentLink = {},
): Promise<DeploymentRecord> {
  const config = ctx.config(req.repository);
  if (!config) {
    throw new BitEnvoyError(
      'BE_CONFIG_UNAVAILABLE',
      `no valid config is in force for ${req.repository}: in local mode set BITENVOY_CONFIG_REPO; in GitHub mode its owner's config repo (\`.bitenvoy\` by default) must exist, have the App installed and validate; /healthz says why it did not load`,
    );
  }
  const repo = config.repositories[req.repository];
  if (!repo) {
    const known = Object.keys(config.repositories);
    throw new BitEnvoyError(
      'BE_REPOSITORY_NOT_CONFIGURED',
      `repository \`${req.repository}\` is not configured; ${known.length ? `configured: ${known.join(', ')}` : 'add repositories/<owner>/<name>.yml to the config repo'}`,
      { details: { repositories: known } },
    );
  }
  const env = repo.environments[req.environment];
  if (!env) {
    const known = Object.keys(repo.environments);
    throw new BitEnvoyError('BE_DEPLOY_REJECTED', `${req.repository} has no environment \`${req.environment}\`; its environments: ${known.join(', ')}`, {
      details: { environments: known },
    });
  }
  if (!repo.git && !link.github) {
    throw new BitEnvoyError(
      'BE_DEPLOY_REJECTED',
      `${req.repository} has no \`git\` URL in ${repo.file}; in local mode agents need it to fetch the code: add \`git: https://…/${req.repository}.git\``,
    );
  }
  const gitUrl = link.github?.cloneUrl ?? repo.git!;
  const sha = await resolveRef(repo.git ?? link.github!.cloneUrl, req.ref);
  // Read while the servers are picked; a lookup that fails or is slow leaves the record without `commit`.
  const commit = describeCommit
    ? describeCommit({ repository: req.repository, gitUrl, sha, ...(link.github ? { installationId: link.github.installationId } : {}) }).catch((err: unknown) => {
        ctx.log.warn({ err, repository: req.repository, sha }, `reading the title and author of commit ${sha.slice(0, 7)} failed; the deployment goes ahead without them`);
        return undefined;
      })
    : undefined;
  const artifacts = resolveArtifacts
    ? resolveArtifacts({ repository: req.repository, gitUrl, sha, ref: req.ref, instructions: repo.instructions, ...(link.github ? { installationId: link.github.installationId } : {}) }).then(
        (list) => ({ list }),
        (err: unknown) => ({ error: err instanceof BitEnvoyError ? err.message : `resolving the artifacts of ${sha.slice(0, 7)} failed: ${(err as Error).message}` }),
      )
    : undefined;
  const strategy = env.strategy ?? 'all-at-once';
  const group = config.groups[env.group];
  const agents = await listAllAgents(ctx.store);
  // An automatic rollback goes back to the servers that moved, whatever the group selects today.
  const only = link.onlyAgents ? new Set(link.onlyAgents) : undefined;
  // Cloud facts are joined fresh for every plan; an agent they cannot vouch for now is left out, saying why.
  const facts = (await ctx.cloudFacts?.(agents, group?.selector)) ?? new Map();
  const picked = group && !only ? selectWithFacts(group.selector, agents, facts, CLOUD_LABEL_PREFIX) : { selected: [], unknown: [] };
  const matching = only ? agents.filter((a) => only.has(a.id)) : picked.selected;
  const ready = matching.filter((a) => isAgentOnline(ctx, a));
  const lost = matching.filter((a) => !isAgentOnline(ctx, a));
  const gone = link.onlyAgents?.filter((id) => !agents.some((a) => a.id === id)) ?? [];
  const configured = config.strategies[strategy] ?? { type: 'all-at-once' as const };
  const rules = link.rollbackOf ? rollbackStrategy(configured) : configured;
  const now = isoNow(ctx);
  const info = await commit;
  const found = await artifacts;
  const dep: DeploymentRecord = {
    id: link.id ?? `dep_${randomBytes(6).toString('hex')}`,
    repository: req.repository,
    environment: req.environment,
    ref: req.ref,
    sha,
    state: 'queued',
    description: '',
    strategy,
    group: env.group,
    configSha: config.sha,
    batches: planRollout(rules, ready),
    policy: rolloutPolicy(rules, ready.length),
    currentBatch: -1,
    skipped: [
      ...lost.map((a) => ({ agentId: a.id, name: a.name, reason: `lost: last seen ${a.lastSeenAt}` })),
      ...gone.map((id) => ({ agentId: id, name: id, reason: 'no longer enrolled' })),
      ...picked.unknown.map(({ agent, reason }) => ({ agentId: agent.id, name: agent.name, reason })),
    ],
    createdBy,
    createdAt: now,
    updatedAt: now,
    ...(info ? { commit: info } : {}),
    ...(found && 'list' in found && found.list.length ? { artifacts: found.list } : {}),
    // A GitHub deployment is fetched from GitHub (where its token works); local mode from the configured URL.
    gitUrl,
    instructions: repo.instructions,
    ...(env.url ? { environmentUrl: env.url } : {}),
    ...(link.github ? { github: link.github } : {}),
    ...(link.forced ? { forced: true } : {}),
    ...(link.rollbackOf ? { rollbackOf: link.rollbackOf } : {}),
    ...(link.trigger ? { trigger: link.trigger } : {}),
  };
  if (found && 'error' in found) {
    dep.state = 'error';
    dep.finishedAt = now;
    dep.description = truncate(found.error);
  } else if (dep.batches.length === 0) {
    const selector = group ? describeSelector(group.selector) : `(group ${env.group} is not defined)`;
    dep.state = 'error';
    dep.finishedAt = now;
    dep.description = truncate(
      link.onlyAgents
        ? `none of the ${link.onlyAgents.length} servers to roll back can take it: ${lost.length} lost, ${gone.length} no longer enrolled`
        : `no agents in group ${env.group}: ${matching.length} of ${agents.length} enrolled agents match ${selector}${lost.length ? `, ${lost.length} of them lost` : ''}`,
    );
  }
  return dep;
}
