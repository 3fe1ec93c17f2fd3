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
import type { GitAuth, JobSpec } from '../lib/protocol.js';
import { artifactTokens, checkJobArtifacts } from './check-job-artifacts.js';

export type CheckedJob = { spec: JobSpec; id: string; problem?: undefined } | { spec?: undefined; id: string | undefined; problem: string };

/** The hub's ids are `job_…`/`dep_…` with hex; this also keeps them safe as file names and URL segments. */
const ID = /^[A-Za-z0-9_-]{1,128}$/;
const REPOSITORY = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
const ENVIRONMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/**
 * What git allows in a ref name (`main`, `release/2.1`, `refs/pull/7/head`, `feature/#12-ü`): no spaces, control
 * characters or `~^:?*[\`, and (checked apart) no `..` or `@{`; never starting with `-` or `/`.
 */
const REF = /^[^-/\s\p{Cc}~^:?*[\\][^\s\p{Cc}~^:?*[\\]{0,254}$/u;
/** What a shell acts on in a word: never in a ref the agent hands its steps. */
const SHELL_SPECIAL = /[$`;|&'"<>(){}!]/;
const SHA = /^[0-9a-f]{40}$/;
/** Schemes git may use here (as config-schema/repository.schema.json says), and no spaces or control characters. */
const GIT_URL = /^(https?:\/\/|git:\/\/|ssh:\/\/|file:\/\/|\/)[^\s\p{Cc}]{1,2040}$/u;
const MAX_CREATED_AT = 64;

type Rule = [field: string, valid: (value: unknown) => boolean, expected: string];

const RULES: Rule[] = [
  ['deploymentId', (v) => isString(v) && ID.test(v), 'a deployment id of letters, digits, `_` and `-`'],
  ['repository', (v) => isString(v) && REPOSITORY.test(v) && !v.split('/').some((part) => part === '.' || part === '..'), '`owner/name`'],
  ['environment', (v) => isString(v) && ENVIRONMENT.test(v), 'an environment name of letters, digits, `.`, `_` and `-`'],
  // Steps see it as BITENVOY_REF: characters a shell would act on (git allows some of them) are refused, so a step
  // that passes it on unquoted cannot be made to run what a hub put there.
  ['ref', (v) => isString(v) && REF.test(v) && !SHELL_SPECIAL.test(v) && !v.includes('..') && !v.includes('@{'), 'a branch or tag name like `main`, without shell characters ($ ` ; | & \' " < > ( ) { } !)'],
  ['sha', (v) => isString(v) && SHA.test(v), 'a full 40-character commit SHA in lowercase hex'],
  ['git.url', (v) => isString(v) && GIT_URL.test(v) && !/^ssh:\/\/([^/@]*@)?-/.test(v), 'an `https://`, `http://`, `ssh://`, `git://` or `file://` URL, or an absolute path'],
  ['instructions', isInstructionPath, 'a relative path inside the commit, like `bitenvoy.yml` or `deploy/bitenvoy.yml`'],
  ['createdAt', (v) => isString(v) && v.length <= MAX_CREATED_AT, 'an ISO time'],
  ['rollback', (v) => v === undefined || typeof v === 'boolean', '`true` or `false`'],
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
  const id = isString(job.id) && ID.test(job.id) ? job.id : undefined;
  const problems = RULES.flatMap(([field, valid, expected]) => {
    const got = field.split('.').reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), job);
    return valid(got) ? [] : [`\`${field}\`: expected ${expected}, got ${describe(got)}`];
  });
  if (!id) problems.unshift(`\`id\`: expected a job id of letters, digits, \`_\` and \`-\`, got ${describe(job.id)}`);
  const artifacts = checkJobArtifacts(job.artifacts);
  if ('problem' in artifacts) problems.push(artifacts.problem);
  if (problems.length || !id) {
    return {
      id,
      problem:
        `the hub sent a job this agent cannot run, so nothing was fetched or run: ${problems.join('; ')}. ` +
        'Check that the hub and this agent run the same BitEnvoy version; if they do, the hub may have been tampered with',
    };
  }
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

/** Relative, inside the commit: no absolute path, no `..` segment, no backslash or control character. */
function isInstructionPath(value: unknown): boolean {
  return isShortString(value, 255) && value.length > 0 && !value.startsWith('/') && !/[\\\p{Cc}]/u.test(value) && !value.split('/').includes('..');
}

/** A value as a message shows it: strings quoted and cut short (a hub may send megabytes), others by their type. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value !== 'string') return value === null ? '`null`' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
  const shown = JSON.stringify(value.length > 60 ? value.slice(0, 60) : value);
  return value.length > 60 ? `${shown}… (${value.length} characters)` : shown;
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
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
