/**
 * The GitHub Deployment of a rollout BitEnvoy starts itself (auto-deploy, commands, the admin API, rollbacks): its
 * body, the create request, and the look-up of one GitHub may have made although its answer was lost. GitHub must
 * not re-check the commit's statuses (`required_contexts: []`: the hub has evaluated the checks) nor merge the
 * default branch into it (`auto_merge: false`); the payload names the BitEnvoy rollout, so whichever of the hub's
 * own start and the `deployment.created` webhook is handled first starts the same rollout, exactly once — and a
 * create sent again after a lost answer finds the deployment it made instead of making a second.
 */
import type { JobArtifact } from '../../lib/protocol.js';
import { randomBytes } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Environment } from '../../config-schema/types.generated.js';
import { truncate } from '../rollout/describe-deployment.js';

/** What BitEnvoy puts in a GitHub Deployment's `payload`. */
export interface BitEnvoyDeploymentPayload {
  bitenvoy: {
    rollout: string;
    trigger: 'auto' | 'command' | 'rollback' | 'api' | 'dashboard';
    url?: string;
    /** The person who asked (a pull request command), for the record's "deployed by". */
    actor?: string;
    /** The pull request the command came from. */
    pullRequest?: number;
    forced?: boolean;
    /** The artifacts the commit declares, as found when the deployment was asked for: name, source and digest. */
    artifacts?: Array<{ name: string; source: string; digest: string }>;
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
  artifacts?: JobArtifact[];
}): Record<string, unknown> {
  const payload: BitEnvoyDeploymentPayload = {
    bitenvoy: {
      rollout: args.rolloutId,
      trigger: args.trigger,
      ...(args.publicUrl ? { url: `${args.publicUrl}/deployments/${args.rolloutId}` } : {}),
      ...(args.actor ? { actor: args.actor } : {}),
      ...(args.pullRequest ? { pullRequest: args.pullRequest } : {}),
      ...(args.forced ? { forced: true } : {}),
      ...(args.artifacts?.length ? { artifacts: args.artifacts.map((a) => ({ name: a.name, source: a.source, digest: a.sha256 ? `sha256:${a.sha256}` : (a.oci?.digest ?? '') })) } : {}),
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

/** The part of an Octokit used here. */
export interface DeploymentOctokit {
  request(route: string, params: Record<string, unknown>): Promise<unknown>;
}

/**
 * `POST /repos/{owner}/{repo}/deployments` with a body from {@link githubDeploymentBody}; GitHub's answer.
 *
 * @example
 * const created = await postGitHubDeployment(octokit, 'acme', 'shop', githubDeploymentBody({ … }));
 */
export async function postGitHubDeployment(octokit: DeploymentOctokit, owner: string, repo: string, body: Record<string, unknown>): Promise<CreatedGitHubDeployment> {
  const res = (await octokit.request('POST /repos/{owner}/{repo}/deployments', { owner, repo, ...body })) as { status: number; data: CreatedGitHubDeployment & { message?: string } };
  // 202 means GitHub merged nothing and created nothing (only with auto_merge); treat anything but 201 as a refusal.
  if (res.status !== 201) throw new BitEnvoyError('BE_INTERNAL', `GitHub did not create the deployment of ${owner}/${repo}: ${res.data.message ?? `HTTP ${res.status}`}`);
  if (typeof res.data?.id !== 'number') throw new BitEnvoyError('BE_INTERNAL', `GitHub created a deployment of ${owner}/${repo} but its answer has no numeric id`);
  return res.data;
}

/** Deployments of one commit and environment are few: more pages than this are not read. */
const LIST_PAGES = 3;
const LIST_PER_PAGE = 100;

/**
 * The GitHub Deployment of `sha` to `environment` whose payload names `rolloutId`, if GitHub has one: what a create
 * whose answer was lost may have made. GitHub lists them newest first; a few pages at most are read.
 *
 * @example
 * const made = await findGitHubDeployment(octokit, { owner: 'acme', repo: 'shop', sha, environment: 'staging', rolloutId: 'dep_1a2b3c4d5e6f' });
 */
export async function findGitHubDeployment(
  octokit: DeploymentOctokit,
  args: { owner: string; repo: string; sha: string; environment: string; rolloutId: string },
): Promise<CreatedGitHubDeployment | undefined> {
  for (let page = 1; page <= LIST_PAGES; page++) {
    const res = (await octokit.request('GET /repos/{owner}/{repo}/deployments', {
      owner: args.owner,
      repo: args.repo,
      sha: args.sha,
      environment: args.environment,
      per_page: LIST_PER_PAGE,
      page,
    })) as { data?: unknown };
    const listed = Array.isArray(res.data) ? (res.data as Array<CreatedGitHubDeployment & { payload: unknown }>) : [];
    // GitHub gives the payload back as it took it: an object, or (made by some tools) a JSON string.
    const found = listed.find((d) => typeof d.id === 'number' && rolloutIdFrom(parsedPayload(d.payload)) === args.rolloutId);
    if (found) return { ...found, payload: parsedPayload(found.payload) as BitEnvoyDeploymentPayload };
    if (listed.length < LIST_PER_PAGE) return undefined;
  }
  return undefined;
}

function parsedPayload(payload: unknown): unknown {
  if (typeof payload !== 'string') return payload;
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return undefined;
  }
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
