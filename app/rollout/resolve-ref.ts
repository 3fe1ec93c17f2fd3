import { git } from '../../lib/git.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { withoutCredentials } from '../../lib/redact-url.js';

const SHA = /^[0-9a-fA-F]{40}$/;
/** What a branch or tag name may look like here; a leading dash would read as a git option. */
const REF_NAME = /^(?!-)(?!.*\.\.)[\p{L}\p{N}._/+@-]{1,255}$/u;

/**
 * Resolves a branch, tag or full commit SHA in a remote repository to a 40-character SHA with `git ls-remote`.
 * A branch wins over a tag of the same name; an annotated tag resolves to its commit. A full SHA is returned as is
 * (lowercased): the agent verifies that it exists when it fetches.
 *
 * @example
 * await resolveRef('https://git.example.com/acme/shop.git', 'main'); // '4f2c…'
 */
export async function resolveRef(gitUrl: string, ref: string): Promise<string> {
  if (SHA.test(ref)) return ref.toLowerCase();
  const where = withoutCredentials(gitUrl);
  if (!REF_NAME.test(ref)) {
    throw new BitEnvoyError('BE_REF_NOT_FOUND', `\`${ref}\` is not a git ref name; give a branch, a tag or a full 40-character commit SHA`, {
      details: { ref, repository: where },
    });
  }
  let out: string;
  try {
    // Patterns match whole trailing path components; `^{}` asks for the commit an annotated tag points at.
    out = await git().listRemote(['--', gitUrl, ref, `${ref}^{}`]);
  } catch (err) {
    const first = String((err as Error).message).split('\n').find((l) => l.trim()) ?? 'unknown error';
    throw new BitEnvoyError('BE_GIT', `cannot read ${where}: ${withoutCredentials(first.trim())}; check the repository's \`git\` URL in the config repo and that the hub can reach it`, { cause: err });
  }
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [sha, name] = line.split('\t');
    if (sha && name) refs.set(name.trim(), sha.trim());
  }
  const sha = refs.get(`refs/heads/${ref}`) ?? refs.get(`refs/tags/${ref}^{}`) ?? refs.get(`refs/tags/${ref}`) ?? refs.get(`${ref}^{}`) ?? refs.get(ref);
  if (!sha) {
    throw new BitEnvoyError('BE_REF_NOT_FOUND', `ref \`${ref}\` does not exist in ${where}; give a branch, a tag or a full 40-character commit SHA`, {
      details: { ref, repository: where },
    });
  }
  return sha;
}
