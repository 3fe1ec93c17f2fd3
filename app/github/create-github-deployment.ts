/**
 * Creates the GitHub Deployment for a rollout BitEnvoy starts itself (auto-deploy). GitHub must not re-check the
 * commit's statuses (`required_contexts: []`: the hub has evaluated the checks) nor merge the default branch into
 * it (`auto_merge: false`); the payload names the BitEnvoy rollout, so whichever of this call and the
 * `deployment.created` webhook is handled first starts the same rollout, exactly once.
 */
import { randomBytes } from 'node:crypto';
import type { Environment } from '../../config-schema/types.generated.js';
import { truncate } from '../rollout/describe-deployment.js';
import type { StatusOctokit } from './status-reporter.js';

/** What BitEnvoy puts in a GitHub Deployment's `payload`. */
export interface BitEnvoyDeploymentPayload {
  bitenvoy: {
    rollout: string;
    trigger: 'auto' | 'command' | 'rollback' | 'api';
    url?: string;
    /** The person who asked (a pull request command), for the record's "deployed by". */
    actor?: string;
    /** The pull request the command came from. */
    pullRequest?: number;
    forced?: boolean;
  };
}

export interface CreatedGitHubDeployment {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  payload: BitEnvoyDeploymentPayload;
  creator?: { login?: string } | null;
}

/** A fresh rollout id, chosen before the GitHub Deployment exists so its payload can name it. */
export function newRolloutId(): string {
  return `dep_${randomBytes(6).toString('hex')}`;
}

/**
 * The body of `POST /repos/{owner}/{repo}/deployments` for one environment.
 *
 * @example
 * githubDeploymentBody({ sha, environment: 'production', env, rolloutId: 'dep_…', trigger: 'auto', description: 'checks passed on main' });
 */
export function githubDeploymentBody(args: {
  sha: string;
  environment: string;
  env: Pick<Environment, 'productionEnvironment' | 'transientEnvironment'>;
  rolloutId: string;
  trigger: BitEnvoyDeploymentPayload['bitenvoy']['trigger'];
  description: string;
  publicUrl?: string;
  actor?: string;
  pullRequest?: number;
  forced?: boolean;
}): Record<string, unknown> {
  const payload: BitEnvoyDeploymentPayload = {
    bitenvoy: {
      rollout: args.rolloutId,
      trigger: args.trigger,
      ...(args.publicUrl ? { url: `${args.publicUrl}/deployments/${args.rolloutId}` } : {}),
      ...(args.actor ? { actor: args.actor } : {}),
      ...(args.pullRequest ? { pullRequest: args.pullRequest } : {}),
      ...(args.forced ? { forced: true } : {}),
    },
  };
  return {
    ref: args.sha,
    task: 'deploy',
    environment: args.environment,
    auto_merge: false,
    required_contexts: [],
    payload,
    description: truncate(args.description),
    production_environment: args.env.productionEnvironment ?? /^prod(uction)?$/i.test(args.environment),
    transient_environment: args.env.transientEnvironment ?? false,
  };
}

export async function createGitHubDeployment(
  octokit: StatusOctokit,
  args: { owner: string; repo: string } & Parameters<typeof githubDeploymentBody>[0],
): Promise<CreatedGitHubDeployment> {
  const res = (await octokit.request('POST /repos/{owner}/{repo}/deployments', {
    owner: args.owner,
    repo: args.repo,
    ...githubDeploymentBody(args),
  })) as { status: number; data: CreatedGitHubDeployment & { message?: string } };
  // 202 means GitHub merged nothing and created nothing (only with auto_merge); treat anything but 201 as a refusal.
  if (res.status !== 201) throw new Error(`GitHub did not create the deployment: ${res.data.message ?? `HTTP ${res.status}`}`);
  return res.data;
}

/** Who asked for a BitEnvoy-made deployment, and whether it was forced, from its payload. */
export function requesterFrom(payload: unknown): { actor?: string; forced: boolean } {
  const b = (payload as Partial<BitEnvoyDeploymentPayload> | null | undefined)?.bitenvoy;
  const actor = typeof b?.actor === 'string' && /^[A-Za-z0-9-]{1,39}(\[bot\])?$/.test(b.actor) ? b.actor : undefined;
  return { ...(actor ? { actor } : {}), forced: b?.forced === true };
}

/** The rollout id a deployment's payload names, if it is a well-formed BitEnvoy payload. */
export function rolloutIdFrom(payload: unknown): string | undefined {
  const id = (payload as Partial<BitEnvoyDeploymentPayload> | null | undefined)?.bitenvoy?.rollout;
  return typeof id === 'string' && /^dep_[0-9a-f]{12}$/.test(id) ? id : undefined;
}
