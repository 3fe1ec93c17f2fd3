/**
 * Who signed: the workflow identity Fulcio wrote into the verified leaf certificate (OIDs from Fulcio's
 * `docs/oid-info.md`, values DER UTF8Strings), compared with what the agent requires. Only the certificate counts
 * here, never the statement: the statement is written by the build itself, the certificate by the CA from GitHub's
 * OIDC token.
 *
 * - 1.3.6.1.4.1.57264.1.8 issuer (V2) = the required OIDC issuer, exactly;
 * - .12 source repository URI = `https://github.com/<repository>`;
 * - .9 build signer URI = `https://github.com/<repository>/<workflow>@<ref>`: the path before the first `@` must be
 *   the workflow exactly (`build.yml` does not accept `build.yml.evil`, nor a reusable workflow elsewhere);
 * - .13 source repository digest = the deployed commit.
 * Each extension must appear exactly once: a certificate naming two issuers proves neither.
 *
 * @example
 * const identity = checkSignerIdentity(verified.signer, { repository: 'acme/shop', workflow, commit, issuer });
 */
import { ASN1Obj } from '@sigstore/core';
import type { Signer } from '@sigstore/verify';
import { BitEnvoyError } from '../../lib/errors.js';

const FULCIO = '1.3.6.1.4.1.57264.1';
const OIDS = {
  issuer: `${FULCIO}.8`,
  buildSignerUri: `${FULCIO}.9`,
  sourceRepositoryUri: `${FULCIO}.12`,
  sourceRepositoryDigest: `${FULCIO}.13`,
} as const;

export interface IdentityRequirement {
  repository: string;
  workflow: string;
  commit: string;
  issuer: string;
}

export interface SignerIdentity {
  /** The build signer URI, e.g. `https://github.com/acme/shop/.github/workflows/build.yml@refs/heads/main`. */
  signer: string;
  /** The workflow's ref from that URI, e.g. `refs/heads/main`. */
  workflowRef: string;
  commit: string;
}

export function checkSignerIdentity(signer: Signer, require: IdentityRequirement): SignerIdentity {
  const read = (name: keyof typeof OIDS) => readExtension(signer, OIDS[name], name);
  const issuer = read('issuer');
  if (issuer !== require.issuer) {
    throw refused(`the certificate's issuer (${OIDS.issuer}) is ${JSON.stringify(issuer)}, expected ${JSON.stringify(require.issuer)} (\`requireProvenance.issuer\`): it was not issued for a GitHub Actions run`);
  }
  const repositoryUri = `https://github.com/${require.repository}`;
  const sourceUri = read('sourceRepositoryUri');
  if (sourceUri.toLowerCase() !== repositoryUri.toLowerCase()) {
    throw refused(`the certificate's source repository (${OIDS.sourceRepositoryUri}) is ${sourceUri}, expected ${repositoryUri}: it was built from another repository`);
  }
  const signerUri = read('buildSignerUri');
  const prefix = `${repositoryUri}/`;
  const at = signerUri.indexOf('@', prefix.length);
  const path = at === -1 ? undefined : signerUri.slice(prefix.length, at);
  const ref = at === -1 ? '' : signerUri.slice(at + 1);
  // The repository part compares like GitHub's names (without regard to case); the workflow path is a file name.
  const sameRepository = signerUri.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase();
  if (!sameRepository || path !== require.workflow || ref === '') {
    throw refused(
      `the certificate's build signer (${OIDS.buildSignerUri}) is ${signerUri}, expected ${prefix}${require.workflow}@<ref> (\`requireProvenance.workflow\`): another workflow signed it`,
    );
  }
  const digest = read('sourceRepositoryDigest');
  if (digest.toLowerCase() !== require.commit.toLowerCase()) {
    throw refused(`the certificate's source commit (${OIDS.sourceRepositoryDigest}) is ${digest}, expected the deployed commit ${require.commit}: it attests a build of another commit`);
  }
  return { signer: signerUri, workflowRef: ref, commit: digest };
}

/** The single UTF8String value of a Fulcio extension of the leaf; refused when absent, repeated or not a string. */
function readExtension(signer: Signer, oid: string, name: string): string {
  const values = (signer.identity?.oids ?? []).filter((o) => o.oid?.id.join('.') === oid).map((o) => o.value);
  if (values.length !== 1) {
    const count = values.length === 0 ? 'has no' : `has ${values.length}`;
    throw refused(`the certificate ${count} ${name} extension (${oid}); a GitHub Actions certificate from Fulcio has exactly one`);
  }
  try {
    const value = ASN1Obj.parseBuffer(Buffer.from(values[0] as Buffer));
    if (value.tag.number !== 0x0c || !value.tag.isUniversal()) throw new Error('not a UTF8String');
    return value.value.toString('utf8');
  } catch (err) {
    throw refused(`the certificate's ${name} extension (${oid}) is not a DER UTF8String (${(err as Error).message})`);
  }
}

function refused(reason: string): BitEnvoyError {
  return new BitEnvoyError('BE_PROVENANCE', reason);
}
