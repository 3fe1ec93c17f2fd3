/**
 * The workflow identity a Fulcio certificate for a GitHub Actions run carries, as certificate extensions (OIDs from
 * Fulcio's `docs/oid-info.md`): 1.3.6.1.4.1.57264.1.1 issuer (V1, the raw string), .8 issuer (V2) and .9 to .14 as
 * DER UTF8Strings, and the workflow URI as the subjectAltName. Tests override single values to make impostors.
 *
 * @example
 * const extensions = fulcioExtensions({ repository: 'acme/shop', workflow: '.github/workflows/build.yml', commit });
 */
import { uriSanDer, utf8StringDer } from './sigstore-der.js';
import type { RawExtension } from './sigstore-pki.js';

const FULCIO = '1.3.6.1.4.1.57264.1';

/** Values to write instead of the derived ones; `null` leaves the extension out. */
export interface IdentityOverrides {
  issuer?: string | null;
  buildSignerUri?: string | null;
  sourceRepositoryUri?: string | null;
  sourceRepositoryDigest?: string | null;
}

export interface IdentityInput {
  repository: string;
  workflow: string;
  commit: string;
  ref?: string;
  issuer?: string;
  identity?: IdentityOverrides;
}

export function fulcioExtensions(input: IdentityInput): RawExtension[] {
  const ref = input.ref ?? 'refs/heads/main';
  const o = input.identity ?? {};
  const pick = (override: string | null | undefined, derived: string) => (override === undefined ? derived : override);
  const issuer = pick(o.issuer, input.issuer ?? 'https://token.actions.githubusercontent.com');
  const signer = pick(o.buildSignerUri, `https://github.com/${input.repository}/${input.workflow}@${ref}`);
  const values: [string, string | null][] = [
    [`${FULCIO}.8`, issuer],
    [`${FULCIO}.9`, signer],
    [`${FULCIO}.10`, input.commit],
    [`${FULCIO}.11`, 'github-hosted'],
    [`${FULCIO}.12`, pick(o.sourceRepositoryUri, `https://github.com/${input.repository}`)],
    [`${FULCIO}.13`, pick(o.sourceRepositoryDigest, input.commit)],
    [`${FULCIO}.14`, ref],
  ];
  const extensions: RawExtension[] = [];
  if (signer !== null) extensions.push({ oid: '2.5.29.17', critical: true, der: uriSanDer(signer) });
  if (issuer !== null) extensions.push({ oid: `${FULCIO}.1`, der: Buffer.from(issuer, 'utf8') });
  for (const [oid, value] of values) if (value !== null) extensions.push({ oid, der: utf8StringDer(value) });
  return extensions;
}
