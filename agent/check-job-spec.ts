/**
 * What the agent accepts from the hub as a job. The hub is not trusted to be well formed (it may be out of date,
 * buggy or compromised): every field the agent uses is checked before anything is journaled, fetched or run, and the
 * spec is rebuilt from those fields only, so whatever else a hub sends (`command`, `steps`, `env`, `secrets`…) is
 * dropped unread. The checks also keep hub values out of places they could escape from: a SHA or URL that git would
 * take for an option, and ids, names or paths that would lead out of the agent's directories.
 *
 * @example
 * const checked = checkJobSpec(offered);
 * if (checked.problem) … // nothing runs; report it as `failed` when `checked.id` is known
 */
import { expectedAt, protocolProblems, type ProtocolProblem } from '../lib/check-protocol.js';
import type { GitAuth, JobSpec } from '../lib/protocol.js';
import { artifactTokens, checkJobArtifacts, describeArtifactProblem, describeValue as describe } from './check-job-artifacts.js';

export type CheckedJob = { spec: JobSpec; id: string; problem?: undefined } | { spec?: undefined; id: string | undefined; problem: string };

const MAX_CREATED_AT = 64;

/**
 * The fields the agent keeps, in the order a message lists them. Their shapes are the contract's (`JobSpec` in
 * lib/agent-protocol.schema.json, whose descriptions say what is expected); beside each, what a schema cannot say.
 */
const FIELDS: [field: string, semantic?: (value: string) => boolean][] = [
  ['id'],
  ['deploymentId'],
  ['repository', (v) => !v.split('/').some((part) => part === '.' || part === '..')],
  ['environment'],
  // Steps see it as BITENVOY_REF: the schema refuses characters a shell would act on (git allows some of them), so a
  // step that passes it on unquoted cannot be made to run what a hub put there; git itself refuses `..` and `@{`.
  ['ref', (v) => !v.includes('..') && !v.includes('@{')],
  ['sha'],
  // An ssh host starting with `-` would be an option to ssh.
  ['git.url', (v) => !/^ssh:\/\/([^/@]*@)?-/.test(v)],
  ['instructions', (v) => !v.split('/').includes('..')],
  ['createdAt'],
  ['rollback'],
];

/**
 * Checks a job as the hub sent it. Returns the spec rebuilt from the known fields (without git credentials: those
 * come with the claim, see {@link checkClaim}), or what is wrong with it, and the job's id when that at least is
 * usable (so the refusal can be reported).
 *
 * @example
 * checkJobSpec({ id: 'job_1', sha: 'abc1234', … }).problem; // 'the hub sent a job this agent cannot run: `sha`: expected a full 40-character commit SHA…'
 */
export function checkJobSpec(value: unknown): CheckedJob {
  const job = isObject(value) ? value : {};
  const broken = protocolProblems('JobSpec', value);
  const failing = FIELDS.filter(([field, semantic]) => {
    const path = field.split('.');
    const got = valueAt(job, path);
    return broken.some((problem) => touches(problem, path)) || (semantic !== undefined && typeof got === 'string' && !semantic(got));
  });
  const id = failing.some(([field]) => field === 'id') ? undefined : (job.id as string);
  const problems = failing.map(([field]) => `\`${field}\`: expected ${expectedAt('JobSpec', field.split('.'))}, got ${describe(valueAt(job, field.split('.')))}`);
  const artifactProblem = broken.find(({ path }) => path[0] === 'artifacts' && path[2] !== 'token');
  if (artifactProblem) problems.push(describeArtifactProblem(artifactProblem, job.artifacts));
  if (problems.length || !id) {
    return {
      id,
      problem:
        `the hub sent a job this agent cannot run, so nothing was fetched or run: ${problems.join('; ')}. ` +
        'Check that the hub and this agent run the same BitEnvoy version; if they do, the hub may have been tampered with',
    };
  }
  const artifacts = checkJobArtifacts(job.artifacts);
  const git = job.git as { url: string };
  const spec: JobSpec = {
    id,
    deploymentId: job.deploymentId as string,
    repository: job.repository as string,
    environment: job.environment as string,
    ref: job.ref as string,
    sha: job.sha as string,
    git: { url: git.url },
    instructions: job.instructions as string,
    createdAt: job.createdAt as string,
    ...(job.rollback === true ? { rollback: true } : {}),
    ...('artifacts' in artifacts && artifacts.artifacts.length ? { artifacts: artifacts.artifacts } : {}),
  };
  return { spec, id };
}

/**
 * What the agent takes from the hub's answer to a claim: the git credentials for this job (only when the answer is
 * about this very job and they are plain strings of sane size) and the lease length (a number of seconds from 1 to
 * 3600; anything else would make the renewals spin or stop).
 *
 * @example
 * checkClaim({ job: { id: 'job_1', git: { url, auth } }, lease: { leaseSeconds: 60 } }, 'job_1'); // { auth, leaseSeconds: 60 }
 */
export function checkClaim(claimed: unknown, jobId: string): { auth?: GitAuth; leaseSeconds?: number; artifactTokens?: Map<string, string> } {
  if (!isObject(claimed)) return {};
  const job = isObject(claimed.job) && claimed.job.id === jobId ? claimed.job : undefined;
  const auth = isObject(job?.git) && isObject(job.git.auth) ? job.git.auth : undefined;
  const seconds = isObject(claimed.lease) ? claimed.lease.leaseSeconds : undefined;
  const validAuth = auth && isShortString(auth.username, 256) && isShortString(auth.password, 8192) && isShortString(auth.expiresAt, MAX_CREATED_AT);
  const tokens = artifactTokens(job);
  return {
    ...(validAuth ? { auth: { username: auth.username as string, password: auth.password as string, expiresAt: auth.expiresAt as string } } : {}),
    ...(tokens.size ? { artifactTokens: tokens } : {}),
    ...(typeof seconds === 'number' && seconds >= 1 && seconds <= 3600 ? { leaseSeconds: seconds } : {}),
  };
}

/** True when a problem is about this field: at it, inside it, or at an object that holds it (a missing `git`). */
function touches({ path }: ProtocolProblem, field: string[]): boolean {
  const shorter = Math.min(path.length, field.length);
  return path.slice(0, shorter).every((segment, i) => segment === field[i]);
}

function valueAt(job: Record<string, unknown>, path: string[]): unknown {
  return path.reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), job);
}

function isShortString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What the journal keeps of a job that failed the checks: its id, and nothing else the hub sent. */
export function unusableJobSpec(id: string): JobSpec {
  return { id, deploymentId: '', repository: '', environment: '', ref: '', sha: '', git: { url: '' }, instructions: '', createdAt: '' };
}
