/**
 * Build provenance, fail closed: with `requireProvenance` in agent.yml an artifact is used only when one of the
 * attestation bundles handed to the agent (by the hub, from GitHub's attestations API) passes every check against
 * the trust root the server's owner configured — so neither a compromised hub nor a compromised artifact store can put
 * other bytes on the server. For each bundle, in order:
 * 1. cryptography, by `@sigstore/verify` ({@link verifyBundleSignature}): bundle version, chain, signing time, log
 *    entry, signature;
 * 2. the certificate's workflow identity ({@link checkSignerIdentity}): issuer, repository, workflow, commit;
 * 3. the signed statement ({@link checkProvenanceStatement}): in-toto v1, SLSA provenance v1, the artifact's digest.
 * The first bundle that passes all three is the proof. None given, none passing, or any unexpected error: refused with
 * BE_PROVENANCE, and the message says why each bundle failed. There is no "warn and continue".
 *
 * @example
 * const trustRoot = await loadTrustRoot(config.requireProvenance.trustRoot, agentDir);
 * const proof = await verifyProvenance({
 *   sha256: artifactDigest,
 *   bundles: attestations.map((a) => a.bundle),
 *   require: { repository: 'acme/shop', workflow: '.github/workflows/build.yml', commit: job.commit },
 *   trustRoot,
 * });
 * log.info({ signer: proof.signer, logIndex: proof.logIndex }, 'artifact provenance verified');
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { checkProvenanceStatement } from './check-provenance-statement.js';
import { checkSignerIdentity } from './check-signer-identity.js';
import type { TrustRoot } from './load-trust-root.js';
import { verifyBundleSignature } from './verify-bundle-signature.js';

/** GitHub Actions' OIDC issuer: what Fulcio writes in certificates for workflow runs on github.com. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

/** More bundles than any artifact has attestations: a hub sending thousands is attacking the agent's CPU. */
const MAX_BUNDLES = 32;

export interface ProvenanceRequirement {
  /** `owner/name`, as in agent.yml's `requireProvenance.repository`. */
  repository: string;
  /** The workflow file's path in that repository, e.g. `.github/workflows/build.yml`. */
  workflow: string;
  /** The deployed commit (40 hex digits). */
  commit: string;
  /** The OIDC issuer; default {@link GITHUB_ACTIONS_ISSUER}. */
  issuer?: string;
}

export interface ProvenanceInput {
  /** The artifact's SHA-256, 64 hex digits, as computed by the agent from the bytes it downloaded. */
  sha256: string;
  /** Sigstore bundles as JSON values (GitHub's attestations API: `attestations[].bundle`). */
  bundles: unknown[];
  require: ProvenanceRequirement;
  trustRoot: TrustRoot;
}

export interface ProvenanceProof {
  /** The build signer URI of the certificate that signed the accepted attestation. */
  signer: string;
  /** The ref the workflow ran at, e.g. `refs/heads/main`. */
  workflowRef: string;
  commit: string;
  /** The transparency log index of the accepted attestation. */
  logIndex?: string;
}

export async function verifyProvenance(input: ProvenanceInput): Promise<ProvenanceProof> {
  const { sha256, bundles, require } = input;
  const issuer = require.issuer ?? GITHUB_ACTIONS_ISSUER;
  const what = `artifact sha256:${sha256} has no valid build attestation from ${require.repository} workflow ${require.workflow} at commit ${require.commit} (\`requireProvenance\` in agent.yml)`;
  if (!/^[0-9a-f]{64}$/i.test(sha256)) throw new BitEnvoyError('BE_PROVENANCE', `${what}: the artifact's digest is not 64 hex digits`);
  if (!Array.isArray(bundles) || bundles.length === 0) {
    throw new BitEnvoyError('BE_PROVENANCE', `${what}: no attestation bundle came with it; the workflow must run actions/attest-build-provenance on this artifact`, { details: { sha256, reasons: [] } });
  }
  if (bundles.length > MAX_BUNDLES) {
    throw new BitEnvoyError('BE_PROVENANCE', `${what}: ${bundles.length} attestation bundles came with it, more than the ${MAX_BUNDLES} the agent checks`);
  }
  const reasons: string[] = [];
  for (const bundle of bundles) {
    try {
      const verified = verifyBundleSignature(bundle, input.trustRoot);
      const identity = checkSignerIdentity(verified.signer, { ...require, issuer });
      checkProvenanceStatement(verified.payloadType, verified.payload, sha256);
      return verified.logIndex === undefined ? identity : { ...identity, logIndex: verified.logIndex };
    } catch (err) {
      // Anything unexpected refuses this bundle too: a verifier that crashed has verified nothing.
      reasons.push(err instanceof BitEnvoyError ? err.message : `the verifier failed unexpectedly (${(err as Error)?.message ?? String(err)})`);
    }
  }
  const listed = reasons.map((r, i) => (reasons.length > 1 ? `bundle ${i + 1} of ${reasons.length}: ${r}` : r)).join('; ');
  throw new BitEnvoyError('BE_PROVENANCE', `${what}: ${listed}`, { details: { sha256, reasons } });
}
