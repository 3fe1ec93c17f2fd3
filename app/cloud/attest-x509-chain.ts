/**
 * Certificates as hub configuration, and the one path check the Azure attestor needs: does this signer certificate
 * lead to a root the operator configured, with every rule of RFC 5280 path validation holding on the way? The
 * validation itself is OpenSSL's (attest-openssl-verify.ts); this module decides what it is given and saves it work:
 *
 * - Only the configured roots are anchors. The caller chooses the candidate intermediates (Azure: the pinned ones
 *   when any are configured, else the certificates in the envelope, as untrusted candidates).
 * - A signer that no candidate or root even issued (its issuer's key does not verify it) is refused at once, without
 *   starting a process: that is what a forged or mangled certificate looks like, and it must stay cheap.
 * - An accepted path is remembered for a few minutes (never past the expiry of any certificate involved): a region's
 *   VMs share one signer certificate, so a fleet attesting at once costs one verification, not one each.
 *
 * @example
 * const roots = readPemCertificates(readFileSync('azure-roots.pem', 'utf8'), 'BITENVOY_AZURE_ROOTS');
 * const result = await verifyCertificatePath(signer, { anchors: roots, untrusted: intermediates, at: Date.now() });
 * if ('problem' in result) refuse('wrong-signer', result.problem);
 */
import { createHash, X509Certificate } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import { opensslVerifyPath, type PathInput } from './attest-openssl-verify.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const REMEMBER_MS = 5 * 60_000;
const MAX_REMEMBERED = 256;

/** Accepted paths: key → the moment they were checked and the last moment the answer may be reused. */
const accepted = new Map<string, { from: number; until: number }>();

/**
 * Every certificate in a PEM bundle. Throws a usage error naming `where` when there is none or one is unreadable:
 * an attestor with no trust anchors would refuse everything, silently.
 */
export function readPemCertificates(pem: string, where: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (!blocks.length) throw new BitEnvoyError('BE_USAGE', `${where}: no PEM certificate found (expected "-----BEGIN CERTIFICATE-----" blocks)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new BitEnvoyError('BE_USAGE', `${where}: certificate ${i + 1} cannot be read (${(err as Error).message}); paste it again from the provider's documentation`);
    }
  });
}

/** Whether `leaf` has a valid path to one of `anchors` at `at` through `untrusted` candidates, or why not. */
export async function verifyCertificatePath(leaf: X509Certificate, input: Omit<PathInput, 'leaf'>): Promise<{ ok: true } | { problem: string }> {
  if (!input.anchors.some((anchor) => anchor.raw.equals(leaf.raw)) && ![...input.untrusted, ...input.anchors].some((parent) => issued(parent, leaf))) {
    return { problem: `${name(leaf)} (issued by ${issuerName(leaf)}) does not lead to a configured root certificate` };
  }
  const key = pathKey(leaf, input);
  const known = accepted.get(key);
  if (known && input.at >= known.from && input.at < known.until) return { ok: true };
  const verdict = await opensslVerifyPath({ leaf, ...input });
  if (!verdict.ok) return { problem: verdict.problem };
  remember(key, input.at, Math.min(input.at + REMEMBER_MS, ...[leaf, ...input.untrusted, ...input.anchors].map((c) => c.validToDate.getTime())));
  return { ok: true };
}

export function name(cert: X509Certificate): string {
  return `"${cert.subject.replaceAll('\n', ', ')}"`;
}

function issuerName(cert: X509Certificate): string {
  return `"${cert.issuer.replaceAll('\n', ', ')}"`;
}

/** Names match and the parent's key verifies the child's signature; any error in either check is a no. */
function issued(parent: X509Certificate, child: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function pathKey(leaf: X509Certificate, input: Omit<PathInput, 'leaf'>): string {
  const hash = createHash('sha256').update(leaf.raw);
  for (const group of [input.anchors, input.untrusted]) {
    hash.update(`|${group.length}|`);
    for (const cert of group) hash.update(cert.fingerprint256);
  }
  return hash.digest('hex');
}

function remember(key: string, from: number, until: number): void {
  accepted.delete(key);
  accepted.set(key, { from, until });
  // Map keeps insertion order: the first key is the one checked longest ago.
  if (accepted.size > MAX_REMEMBERED) accepted.delete(accepted.keys().next().value!);
}
