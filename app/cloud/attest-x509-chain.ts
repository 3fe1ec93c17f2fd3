/**
 * Certificates as hub configuration, and the one chain check the attestors need: does this signer certificate lead,
 * certificate by certificate, to a root the operator configured — each link signed by the next, each valid now?
 *
 * Node has no path builder, so this is a small one: from the leaf, repeatedly pick the certificate in the pool that
 * issued it (names match *and* its key verifies the signature), stopping at a configured root. Roots are pinned by
 * fingerprint; a certificate that merely claims a root's name is not that root.
 *
 * @example
 * const roots = readPemCertificates(readFileSync('azure-roots.pem', 'utf8'), 'BITENVOY_AZURE_ROOTS');
 * const result = chainToRoot(signer, intermediates, roots, Date.now());
 * if ('problem' in result) refuse('wrong-signer', result.problem);
 */
import { X509Certificate } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** Leaf, intermediates, root: real chains are 2–4 long. A longer one is a loop or an attack on the path search. */
const MAX_CHAIN = 6;

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

/** The chain from `leaf` to a configured root, or why there is none. */
export function chainToRoot(
  leaf: X509Certificate,
  pool: X509Certificate[],
  roots: X509Certificate[],
  now: number,
): { chain: X509Certificate[] } | { problem: string } {
  const pinned = new Set(roots.map((root) => root.fingerprint256));
  const chain: X509Certificate[] = [];
  let cert = leaf;
  while (chain.length < MAX_CHAIN) {
    const invalid = outsideValidity(cert, now);
    if (invalid) return { problem: invalid };
    chain.push(cert);
    if (pinned.has(cert.fingerprint256)) return { chain };
    const root = roots.find((candidate) => issued(candidate, cert));
    if (root) {
      const rootInvalid = outsideValidity(root, now);
      return rootInvalid ? { problem: rootInvalid } : { chain: [...chain, root] };
    }
    const parent = pool.find((candidate) => candidate.ca && !chain.some((c) => c.fingerprint256 === candidate.fingerprint256) && issued(candidate, cert));
    if (!parent) return { problem: `${name(cert)} (issued by ${issuerName(cert)}) does not lead to a configured root certificate` };
    cert = parent;
  }
  return { problem: `the chain from ${name(leaf)} is longer than ${MAX_CHAIN} certificates` };
}

/** The DNS names a certificate is for: its subject alternative names, else its common name. */
export function dnsNamesOf(cert: X509Certificate): string[] {
  const sans = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  if (sans.length) return sans;
  const cn = cert.subject.split('\n').find((line) => line.startsWith('CN='));
  return cn ? [cn.slice(3).toLowerCase()] : [];
}

export function name(cert: X509Certificate): string {
  return `"${cert.subject.replaceAll('\n', ', ')}"`;
}

function issuerName(cert: X509Certificate): string {
  return `"${cert.issuer.replaceAll('\n', ', ')}"`;
}

function issued(parent: X509Certificate, child: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

function outsideValidity(cert: X509Certificate, now: number): string | undefined {
  if (now < cert.validFromDate.getTime()) return `certificate ${name(cert)} is not valid before ${cert.validFromDate.toISOString()}`;
  if (now > cert.validToDate.getTime()) return `certificate ${name(cert)} expired on ${cert.validToDate.toISOString()}`;
  return undefined;
}
