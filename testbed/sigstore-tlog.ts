/**
 * A Rekor-style transparency log entry for a test bundle: the `dsse` 0.0.1 body Rekor v1 records for a DSSE envelope
 * (canonical JSON), a signed entry timestamp (the log's promise, which also dates the signature), and an inclusion
 * proof in a two-entry tree under a checkpoint the log signed (a bundle v0.3 must carry one).
 *
 * @example
 * const entry = logEntry({ log, envelope, payload, signature, leaf, signedAt });
 */
import { createHash, sign } from 'node:crypto';
import { canonicalJson } from './sigstore-der.js';
import type { Cert, KeyPair } from './sigstore-pki.js';
import { logIdOf } from './sigstore-sct.js';

/** The checkpoint signer's name: Sigstore clients look for it inside the trusted log's base URL. */
const LOG_NAME = 'rekor.test.invalid';

export interface LogEntryInput {
  log: KeyPair;
  envelope: Record<string, unknown>;
  payload: Buffer;
  signature: Buffer;
  leaf: Cert;
  signedAt: Date;
}

export function logEntry(input: LogEntryInput): Record<string, unknown> {
  const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
  const pem = `-----BEGIN CERTIFICATE-----\n${input.leaf.der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
  const body = Buffer.from(
    canonicalJson({
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: sha256(canonicalJson(input.envelope)).toString('hex') },
        payloadHash: { algorithm: 'sha256', value: sha256(input.payload).toString('hex') },
        signatures: [{ signature: input.signature.toString('base64'), verifier: Buffer.from(pem).toString('base64') }],
      },
    }),
  );
  const logId = logIdOf(input.log);
  const integratedTime = Math.floor(input.signedAt.getTime() / 1000);
  const logIndex = 1;
  const promise = canonicalJson({ body: body.toString('base64'), integratedTime, logIndex, logID: logId.toString('hex') });
  const signedEntryTimestamp = sign('sha256', Buffer.from(promise), input.log.privateKey);

  // RFC 6962 tree of two leaves: some earlier entry at index 0, ours at index 1; the proof is the sibling's hash.
  const sibling = sha256(Buffer.concat([Buffer.from([0]), Buffer.from('an earlier entry')]));
  const leafHash = sha256(Buffer.concat([Buffer.from([0]), body]));
  const rootHash = sha256(Buffer.concat([Buffer.from([1]), sibling, leafHash]));
  const note = `${LOG_NAME} - 1\n2\n${rootHash.toString('base64')}\n`;
  const noteSignature = sign('sha256', Buffer.from(note), input.log.privateKey);
  const checkpoint = `${note}\n\u2014 ${LOG_NAME} ${Buffer.concat([logId.subarray(0, 4), noteSignature]).toString('base64')}\n`;

  return {
    logIndex: String(logIndex),
    logId: { keyId: logId.toString('base64') },
    kindVersion: { kind: 'dsse', version: '0.0.1' },
    integratedTime: String(integratedTime),
    inclusionPromise: { signedEntryTimestamp: signedEntryTimestamp.toString('base64') },
    inclusionProof: {
      logIndex: String(logIndex),
      rootHash: rootHash.toString('base64'),
      treeSize: '2',
      hashes: [sibling.toString('base64')],
      checkpoint: { envelope: checkpoint },
    },
    canonicalizedBody: body.toString('base64'),
  };
}
