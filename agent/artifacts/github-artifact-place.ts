/**
 * Which GitHub (github.com or an Enterprise Server) and which repository a GitHub artifact download URL belongs to,
 * read from the URL's shape, so `allow.artifactSources`' `github-actions` and `github-releases` can insist on the
 * job's own repository on the GitHub the owner named. GitHub answers these URLs with a redirect to its blob store;
 * only the first URL is checked here (the digest decides the bytes).
 *
 * @example
 * githubArtifactPlace('github-actions', 'https://api.github.com', '/repos/acme/shop/actions/artifacts/7/zip');
 * // { instance: 'https://github.com', repository: 'acme/shop' }
 * githubPatternPlace('github-releases@https://ghe.example.com'); // { kind: 'github-releases', instance: 'https://ghe.example.com' }
 */
import { parseArtifactUrl } from './artifact-url.js';

export type GithubArtifactPlace = { instance: string; repository: string } | { flaw: string };

const DOTCOM = 'https://github.com';
const DOTCOM_API = 'https://api.github.com';
const NAME = '[A-Za-z0-9_.-]+';
const ACTIONS = new RegExp(`^(/api/v3)?/repos/(${NAME})/(${NAME})/actions/artifacts/[0-9]+/zip$`);
const ASSET = new RegExp(`^(/api/v3)?/repos/(${NAME})/(${NAME})/releases/assets/[0-9]+$`);
const RELEASE_DOWNLOAD = new RegExp(`^()/(${NAME})/(${NAME})/releases/download/[^/]+/[^/]+$`);

/**
 * The GitHub instance (its web origin) and repository of an Actions artifact (`…/repos/o/n/actions/artifacts/ID/zip`)
 * or release asset (`…/repos/o/n/releases/assets/ID`, or `/o/n/releases/download/TAG/FILE` on the web host). The
 * API is `https://api.github.com/` on github.com and `<origin>/api/v3/` on an Enterprise Server.
 */
export function githubArtifactPlace(kind: 'github-actions' | 'github-release', origin: string, path: string): GithubArtifactPlace {
  const shapes = kind === 'github-actions' ? [ACTIONS] : [ASSET, RELEASE_DOWNLOAD];
  const match = shapes.map((shape) => shape.exec(path)).find((found) => found !== null);
  const expected = kind === 'github-actions' ? 'an Actions artifact download (`…/repos/<owner>/<name>/actions/artifacts/<id>/zip`)' : 'a release asset (`…/repos/<owner>/<name>/releases/assets/<id>` or `/<owner>/<name>/releases/download/<tag>/<file>`)';
  if (!match) return { flaw: `it is not ${expected}` };
  const [, apiPrefix, owner = '', name = ''] = match;
  const viaApi = match[0].includes('/repos/');
  if (owner === '.' || owner === '..' || name === '.' || name === '..') return { flaw: `it is not ${expected}` };
  const repository = `${owner}/${name}`;
  if (viaApi && !apiPrefix && origin === DOTCOM_API) return { instance: DOTCOM, repository };
  if (viaApi && apiPrefix && origin !== DOTCOM_API && origin !== DOTCOM) return { instance: origin, repository };
  if (!viaApi && origin !== DOTCOM_API) return { instance: origin, repository };
  return { flaw: `it is not ${expected} on github.com (API https://api.github.com/) or on a GitHub Enterprise Server (API <origin>/api/v3/)` };
}

/** The kind and instance of a `github-actions[@origin]` or `github-releases[@origin]` pattern, or undefined for others. */
export function githubPatternPlace(pattern: string): { kind: string; instance: string } | undefined {
  const match = /^(github-actions|github-releases)(?:@(.+))?$/.exec(pattern);
  if (!match) return undefined;
  const [, kind = '', origin] = match;
  if (origin === undefined) return { kind, instance: DOTCOM };
  const parsed = parseArtifactUrl(`${origin}/`);
  return parsed.flaw === undefined && parsed.path === '/' ? { kind, instance: parsed.origin } : undefined;
}
