/**
 * What the certificate that signed Azure attested data must be, beyond having a valid path to a configured root
 * (attest-x509-chain.ts). Path validation proves who issued a certificate; these rules say what it may be used for:
 *
 * - an end entity: basicConstraints absent or `cA` false, and no `keyCertSign` key usage — a CA signs certificates,
 *   never attested data;
 * - fit for signing data: a key usage extension, when present, includes `digitalSignature`; an extended key usage,
 *   when present, includes `serverAuth` (1.3.6.1.5.5.7.3.1) — Azure's signer is the TLS server certificate of
 *   `metadata.azure.com`. `anyExtendedKeyUsage` alone is not enough, and a code-signing-only certificate is refused;
 * - for the metadata service: a DNS name in its subject alternative names (or, when it has none, its common name —
 *   Azure's documentation sample has only that) equal to a configured signer name or a subdomain of one.
 *
 * Validity and the name constraints of the CAs above it are OpenSSL's part (also for a name taken from the common
 * name: OpenSSL applies DNS name constraints to it when there are no DNS alternative names).
 *
 * @example
 * const problem = checkSignerCertificate(signer, readCertificateExtensions(signer.raw), ['metadata.azure.com']);
 * if (problem) refuse('wrong-signer', problem);
 */
import type { X509Certificate } from 'node:crypto';
import type { CertificateExtensions } from './attest-x509-extensions.js';
import { name } from './attest-x509-chain.js';

export const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Why `cert` may not sign attested data, or undefined when it may. */
export function checkSignerCertificate(cert: X509Certificate, ext: CertificateExtensions, allowedNames: string[]): string | undefined {
  const names = signerNames(cert, ext);
  if (!names.some((n) => allowedNames.some((suffix) => n === suffix || n.endsWith(`.${suffix}`)))) {
    return `signed by ${name(cert)}, which is not a certificate for ${allowedNames.join(' or ')}: only Azure's metadata service may sign attested data`;
  }
  if (ext.ca || ext.keyUsage?.keyCertSign) {
    return `signed by ${name(cert)}, which is a CA certificate (basicConstraints cA or keyCertSign): attested data is signed by an end-entity certificate, never by a CA`;
  }
  if (ext.keyUsage && !ext.keyUsage.digitalSignature) {
    return `signed by ${name(cert)}, whose key usage does not include digitalSignature: its key may not sign data`;
  }
  if (ext.extKeyUsage && !ext.extKeyUsage.includes(SERVER_AUTH)) {
    return `signed by ${name(cert)}, whose extended key usage (${ext.extKeyUsage.join(', ')}) does not include serverAuth (${SERVER_AUTH}): it is not the metadata service's server certificate`;
  }
  return undefined;
}

/** The DNS names a certificate is for: its subject alternative names, else its common name(s) that are host names. */
export function signerNames(cert: X509Certificate, ext: CertificateExtensions): string[] {
  const names = ext.dnsNames.length
    ? ext.dnsNames
    : cert.subject
        .split('\n')
        .filter((line) => line.startsWith('CN='))
        .map((line) => line.slice(3).toLowerCase());
  return names.filter((n) => HOST_NAME.test(n));
}
