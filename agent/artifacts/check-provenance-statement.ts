/**
 * What was signed: the DSSE payload must be an in-toto v1 statement with a SLSA provenance v1 predicate, and one of its
 * subjects must be the artifact (its `digest.sha256`). Other subjects are fine: one build may attest several files.
 *
 * @example
 * checkProvenanceStatement(verified.payloadType, verified.payload, artifactSha256);
 */
import { BitEnvoyError } from '../../lib/errors.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

export function checkProvenanceStatement(payloadType: string, payload: Buffer, sha256: string): void {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw refused(`the envelope's payloadType is ${JSON.stringify(payloadType)}, expected ${IN_TOTO_PAYLOAD_TYPE}: it is not an in-toto statement`);
  }
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch {
    throw refused('the signed statement is not JSON');
  }
  if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) throw refused('the signed statement is not a JSON object');
  const { _type: type, predicateType, subject } = statement as { _type?: unknown; predicateType?: unknown; subject?: unknown };
  if (type !== IN_TOTO_STATEMENT_V1) {
    throw refused(`the statement's _type is ${JSON.stringify(type)}, expected ${IN_TOTO_STATEMENT_V1}`);
  }
  if (predicateType !== SLSA_PROVENANCE_V1) {
    throw refused(`the statement's predicateType is ${JSON.stringify(predicateType)}, expected ${SLSA_PROVENANCE_V1}: it is not a build provenance attestation (an SBOM or another claim proves nothing about the build)`);
  }
  if (!Array.isArray(subject)) throw refused('the statement has no subject list');
  const wanted = sha256.toLowerCase();
  const found = subject.some((s: unknown) => {
    const digest = typeof s === 'object' && s !== null ? (s as { digest?: unknown }).digest : undefined;
    const value = typeof digest === 'object' && digest !== null ? (digest as { sha256?: unknown }).sha256 : undefined;
    return typeof value === 'string' && value.toLowerCase() === wanted;
  });
  if (!found) {
    const named = subject
      .slice(0, 5)
      .map((s: unknown) => String((s as { digest?: { sha256?: unknown } } | null)?.digest?.sha256 ?? '?'))
      .join(', ');
    throw refused(`the statement's subjects (sha256 ${named}${subject.length > 5 ? ', …' : ''}) do not include the artifact's sha256 ${wanted}: it attests other bytes`);
  }
}

function refused(reason: string): BitEnvoyError {
  return new BitEnvoyError('BE_PROVENANCE', reason);
}
