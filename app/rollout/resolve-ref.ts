import { git } from '../../lib/git.js';
import { BitEnvoyError } from '../../lib/errors.js';

const SHA = /^[0-9a-f]{40}$/;

/**
 * Resolves a branch, tag or full commit SHA in a remote repository to a 40-character SHA with `git ls-remote`.
 * A full SHA is returned as is (the agent verifies that it exists when it fetches).
 *
 * @example
 * await resolveRef('https://git.example.com/acme/shop.git', 'main'); // '4f2c…'
 */
export async function resolveRef(gitUrl: string, ref: string): Promise<string> {
  if (SHA.test(ref)) return ref;
  let out: string;
  try {
    out = await git().listRemote([gitUrl, ref, `refs/heads/${ref}`, `refs/tags/${ref}`]);
  } catch (err) {
    const first = String((err as Error).message).split('\n').find((l) => l.trim()) ?? 'unknown error';
    throw new BitEnvoyError('BE_GIT', `cannot read ${gitUrl}: ${first}; check the repository's \`git\` URL in the config repo`, { cause: err });
  }
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [sha, name] = line.split('\t');
    if (sha && name) refs.set(name, sha);
  }
  const sha =
    refs.get(`refs/heads/${ref}`) ??
    refs.get(`refs/tags/${ref}^{}`) ??
    refs.get(`refs/tags/${ref}`) ??
    refs.get(ref);
  if (!sha) {
    throw new BitEnvoyError('BE_REF_NOT_FOUND', `ref \`${ref}\` does not exist in ${gitUrl}; give a branch, a tag or a full 40-character commit SHA`);
  }
  return sha;
}
