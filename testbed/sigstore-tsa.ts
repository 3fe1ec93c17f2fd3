/**
 * An RFC 3161 timestamp of a signature, made by `openssl ts` with the test timestamp authority: the second kind of
 * signing time a Sigstore bundle may carry (GitHub's own Sigstore instance dates private-repository attestations this
 * way). The result is the DER TimeStampResp a bundle's `rfc3161Timestamps[].signedTimestamp` holds.
 *
 * @example
 * const token = timestampSignature(pki, tsaLeaf, signature);
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Cert, SigstorePki } from './sigstore-pki.js';

export function timestampSignature(pki: SigstorePki, tsa: Cert, signature: Buffer): Buffer {
  const dataPath = pki.path('bin');
  writeFileSync(dataPath, signature);
  const serialPath = pki.path('serial');
  writeFileSync(serialPath, '01\n');
  const config = pki.path('cnf');
  writeFileSync(
    config,
    [
      '[tsa]', 'default_tsa = test_tsa', '[test_tsa]', `serial = ${serialPath}`, 'crypto_device = builtin', 'signer_digest = sha256',
      'default_policy = 1.3.6.1.4.1.57264.2', 'digests = sha256', 'accuracy = secs:1', 'ordering = no', 'tsa_name = no',
      'ess_cert_id_chain = no', 'ess_cert_id_alg = sha256',
    ].join('\n') + '\n',
  );
  const query = pki.path('tsq');
  const reply = pki.path('tsr');
  pki.openssl(['ts', '-query', '-data', dataPath, '-sha256', '-cert', '-no_nonce', '-out', query]);
  pki.openssl(['ts', '-reply', '-config', config, '-queryfile', query, '-inkey', tsa.keyPath, '-signer', tsa.certPath, '-out', reply]);
  return readFileSync(reply);
}
