/**
 * The Sigstore trust root the agent checks build attestations against: a `trusted_root.json` file (certificate
 * authorities, transparency logs, CT logs, timestamp authorities) the server's owner put there. The agent never fetches
 * one: whoever could answer that fetch (a hub, a proxy) could then vouch for any bytes. `gh attestation trusted-root`
 * prints one root per line (Sigstore's public-good instance and GitHub's own); such a file is read as several roots,
 * and a bundle passes when it passes under one of them.
 *
 * Thresholds per root, fixed here rather than configurable so that none is ever silently zero:
 * - transparency log entries: 1 — every bundle must carry an entry verified with a log key of the root;
 * - verified signing times: 1 — a log's signed entry timestamp or an RFC 3161 timestamp of one of the root's TSAs;
 *   without one the certificate's validity cannot be checked at all;
 * - SCTs (CT log promises embedded in the certificate): 1 when the root lists CT logs; 0 when it lists none (a root
 *   without CT logs declares a CA that does not log, like GitHub's own instance) — the root is the owner's statement.
 *
 * @example
 * const trustRoot = await loadTrustRoot(config.requireProvenance.trustRoot, agentDir);
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { BitEnvoyError } from '../../lib/errors.js';

/** One trusted root, ready for `@sigstore/verify`, with the SCT threshold it implies. */
export interface TrustRootInstance {
  material: TrustMaterial;
  ctlogThreshold: number;
}

export interface TrustRoot {
  /** The file it came from, for messages. */
  path: string;
  roots: TrustRootInstance[];
  /** Roots of the file that can verify nothing, and why (named in every refusal). */
  unusable: string[];
}

/** Real trust roots are a few kilobytes; a bigger file is a mistake (or an attack on the agent's memory). */
const MAX_BYTES = 4 * 1024 * 1024;

const HOW_TO_GET =
  'on a machine with `gh` and internet access run `gh attestation trusted-root > trusted_root.json`, copy that file to this server and set `requireProvenance.trustRoot` in agent.yml to its path';

/**
 * Reads and checks the trust root file at `path` (relative paths are relative to `baseDir`, the agent directory).
 * Throws BE_PROVENANCE when it is not set, missing, too big, or not a usable Sigstore trusted root.
 */
export async function loadTrustRoot(path: string | undefined, baseDir: string): Promise<TrustRoot> {
  if (path === undefined || path === '') {
    throw new BitEnvoyError(
      'BE_PROVENANCE',
      `agent.yml sets \`requireProvenance\` but no \`requireProvenance.trustRoot\`: the agent cannot check build attestations without a Sigstore trust root, and refuses every artifact until it has one; ${HOW_TO_GET}`,
    );
  }
  const file = isAbsolute(path) ? path : join(baseDir, path);
  const size = await stat(file).then(
    (s) => s.size,
    (err: NodeJS.ErrnoException) => {
      throw new BitEnvoyError('BE_PROVENANCE', `cannot read the trust root ${file} (\`requireProvenance.trustRoot\` in agent.yml): ${err.code ?? err.message}; ${HOW_TO_GET}`);
    },
  );
  if (size > MAX_BYTES) throw new BitEnvoyError('BE_PROVENANCE', `the trust root ${file} is ${size} bytes, more than a Sigstore trusted root ever is (${MAX_BYTES}); ${HOW_TO_GET}`);
  const text = await readFile(file, 'utf8');
  const documents = parseDocuments(text, file);
  const roots: TrustRootInstance[] = [];
  const unusable: string[] = [];
  documents.forEach((doc, i) => {
    const where = documents.length > 1 ? `${file} (root ${i + 1} of ${documents.length})` : file;
    const root = toInstance(doc, where);
    // A root without a transparency log can never pass the log check (GitHub's own instance, for private repositories,
    // has none); it is kept out, and said so in refusals, rather than failing the whole file that also holds a usable one.
    if (typeof root === 'string') unusable.push(root);
    else roots.push(root);
  });
  if (roots.length === 0) throw new BitEnvoyError('BE_PROVENANCE', `the trust root ${file} has no usable root: ${unusable.join('; ')}; ${HOW_TO_GET}`);
  return { path: file, roots, unusable };
}

/** One JSON document, or JSON lines as `gh attestation trusted-root` prints them. */
function parseDocuments(text: string, file: string): unknown[] {
  const bad = (why: string) => new BitEnvoyError('BE_PROVENANCE', `the trust root ${file} is not a Sigstore trusted_root.json: ${why}; ${HOW_TO_GET}`);
  try {
    return [JSON.parse(text) as unknown];
  } catch {
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    if (lines.length === 0) throw bad('the file is empty');
    return lines.map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw bad(`line ${i + 1} is not JSON`);
      }
    });
  }
}

/** The root ready for use, or why it can never verify anything. */
function toInstance(doc: unknown, where: string): TrustRootInstance | string {
  const bad = (why: string) => new BitEnvoyError('BE_PROVENANCE', `the trust root ${where} is not a usable Sigstore trusted root: ${why}; ${HOW_TO_GET}`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('expected a JSON object');
  const mediaType = (doc as { mediaType?: unknown }).mediaType;
  if (typeof mediaType !== 'string' || !mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')) {
    throw bad(`its mediaType is ${JSON.stringify(mediaType)}, expected application/vnd.dev.sigstore.trustedroot…`);
  }
  let root: TrustedRoot;
  let material: TrustMaterial;
  try {
    root = TrustedRoot.fromJSON(doc);
    material = toTrustMaterial(root);
  } catch (err) {
    throw bad(`it cannot be read (${(err as Error).message})`);
  }
  // An empty CA list makes the chain check impossible to pass: a broken file, said at start rather than per artifact.
  if (root.certificateAuthorities.length === 0) throw bad('it lists no certificate authority (`certificateAuthorities`)');
  if (root.tlogs.length === 0) return `${where} lists no transparency log (\`tlogs\`), and every attestation must be logged in one`;
  return { material, ctlogThreshold: root.ctlogs.length > 0 ? 1 : 0 };
}
