/**
 * OCI references as users write them in `bitenvoy.yml` (`ghcr.io/acme/shop-site:1.2.0`,
 * `registry.example.com:5000/team/app@sha256:…`), split into registry host, repository, tag and digest, following the
 * grammar of the distribution project's reference package. Stricter than `docker pull` on purpose: there is no
 * default registry (a short name like `acme/site` would silently mean Docker Hub) and no default tag (`latest` is not
 * a version anyone can pin a deployment to).
 *
 * @example
 * parseOciReference('ghcr.io/acme/shop-site:1.2.0');
 * // → { registry: 'ghcr.io', repository: 'acme/shop-site', tag: '1.2.0', digest: undefined }
 */
import { BitEnvoyError } from '../errors.js';

export interface OciReference {
  /** Registry host with its port when one is given: `ghcr.io`, `localhost:5000`, `127.0.0.1:40123`. */
  registry: string;
  /** Repository path inside the registry: `acme/shop-site`. */
  repository: string;
  tag: string | undefined;
  /** `sha256:<64 hex>`; when both are given the digest is what counts and the tag is only a label. */
  digest: string | undefined;
}

const MAX_REFERENCE_LENGTH = 512;
// A repository path is at most 255 characters in the distribution spec; each component is lower-case alphanumerics
// separated by one `.` or `_`, two `_`, or any number of `-`.
const MAX_REPOSITORY_LENGTH = 255;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
/** A digest BitEnvoy can pin to and check: `sha256:` and 64 lower-case hex digits. */
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseOciReference(text: string): OciReference {
  const fail = (why: string) => new BitEnvoyError('BE_ARTIFACT', `\`${text.slice(0, 100)}\` is not an OCI reference: ${why}`);
  if (text.length === 0 || text.length > MAX_REFERENCE_LENGTH) {
    throw fail(`expected 1 to ${MAX_REFERENCE_LENGTH} characters like \`ghcr.io/acme/site:1.2.0\``);
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!SHA256_DIGEST.test(digest)) {
      throw fail(`the digest \`${digest.slice(0, 80)}\` is not \`sha256:\` followed by 64 lower-case hex digits (the only algorithm BitEnvoy pins to)`);
    }
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash);
  if (slash < 0 || !(first.includes('.') || first.includes(':') || first === 'localhost')) {
    throw fail('it does not start with a registry host; name it, e.g. `ghcr.io/acme/site:1.2.0` or `docker.io/library/nginx:1.27` (BitEnvoy has no default registry)');
  }
  if (!HOST.test(first)) throw fail(`the registry host \`${first}\` is not a host name or address with an optional port`);
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  // A colon after the last slash starts the tag (the host's port colon is already cut off).
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) {
      throw fail(`the tag \`${tag.slice(0, 80)}\` must be 1 to 128 letters, digits, \`_\`, \`.\` or \`-\`, not starting with \`.\` or \`-\``);
    }
  }
  if (path.length === 0 || path.length > MAX_REPOSITORY_LENGTH) {
    throw fail(`the repository after \`${first}/\` must be 1 to ${MAX_REPOSITORY_LENGTH} characters`);
  }
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw fail(
        `the repository \`${path.slice(0, 120)}\` has the part \`${component.slice(0, 60)}\`; each part between slashes must be lower-case letters and digits, separated by \`.\`, \`_\`, \`__\` or dashes`,
      );
    }
  }
  if (tag === undefined && digest === undefined) {
    throw fail(`add a tag or a digest, e.g. \`${text}:1.2.0\` or \`${text}@sha256:…\` (there is no default \`latest\`)`);
  }
  return { registry: first, repository: path, tag, digest };
}

/**
 * The reference written back as text, `registry/repository:tag@digest` with whichever parts it has.
 *
 * @example
 * formatOciReference({ registry: 'ghcr.io', repository: 'acme/site', tag: '1.2.0' }); // 'ghcr.io/acme/site:1.2.0'
 */
export function formatOciReference(ref: { registry: string; repository: string; tag?: string | undefined; digest?: string | undefined }): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}
