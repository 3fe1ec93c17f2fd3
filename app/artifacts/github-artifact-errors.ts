/**
 * What the GitHub artifact resolvers share: the resolved artifact's shape, GitHub refusals turned into errors that
 * say what to change, and the digest check. A resolved artifact is what the plan records and the agent later
 * downloads directly from GitHub (`url` with a short-lived token) and checks against `sha256` before unpacking.
 *
 * @example
 * const data = await readGitHub(() => octokit.request(route, params), { notFound: 'workflow build.yml not found…', permission: 'actions: read', repository });
 */
import { BitEnvoyError } from '../../lib/errors.js';

export interface ResolvedGitHubArtifact {
  source: 'github-actions' | 'github-release';
  /** The artifact's or asset's name on GitHub. */
  name: string;
  /** The GitHub API URL the agent downloads from (GitHub redirects it to short-lived storage). */
  url: string;
  /** Hex SHA-256 of the bytes the URL gives, as GitHub recorded it at upload. */
  sha256: string;
  size: number;
  /** One line for the plan, the deployment page and the GitHub Deployment's payload. */
  described: string;
}

/**
 * One GitHub read, with a 404 (missing, or hidden from the App) and a 403 (the App's installation lacks the
 * permission) answered in words; anything else (GitHub down, rate limits) propagates as it is.
 */
export async function readGitHub<T>(read: () => Promise<unknown>, what: { notFound: string; permission: string; repository: string }): Promise<T> {
  try {
    return ((await read()) as { data: T }).data;
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 404) throw new BitEnvoyError('BE_ARTIFACT', what.notFound, { cause: err, details: { repository: what.repository } });
    if (status === 403) {
      throw new BitEnvoyError(
        'BE_ARTIFACT',
        `GitHub refuses the BitEnvoy App access to ${what.repository} (it says: ${(err as Error).message}): accept the App's \`${what.permission}\` permission in the installation's settings`,
        { cause: err, details: { repository: what.repository } },
      );
    }
    throw err;
  }
}

/** The hex of a `sha256:<hex>` digest, or undefined when there is none or it is of another kind. */
export function sha256Of(digest: unknown): string | undefined {
  return typeof digest === 'string' ? /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1] : undefined;
}

/** `12.3 kB`, for descriptions. */
export function describeSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let n = bytes / 1000;
  let unit = 0;
  while (n >= 1000 && unit < units.length - 1) [n, unit] = [n / 1000, unit + 1];
  return `${n.toFixed(1)} ${units[unit]}`;
}

/** `owner/name` split, refusing anything else before it reaches a URL. */
export function splitRepository(repository: string): { owner: string; repo: string } {
  const m = /^([\w.-]+)\/([\w.-]+)$/.exec(repository);
  if (!m) throw new BitEnvoyError('BE_ARTIFACT', `\`${repository}\` is not a GitHub repository: expected \`owner/name\``);
  return { owner: m[1]!, repo: m[2]! };
}
