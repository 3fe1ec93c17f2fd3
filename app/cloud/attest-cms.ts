/**
 * Opens a PKCS#7 / CMS SignedData envelope (RFC 5652) with its content inside — the shape of Azure's attested data —
 * and checks its one signature. Only what that needs: one signer, RSA PKCS#1 v1.5 with SHA-256/384/512, content of
 * type `data`, with or without signed attributes (Azure signs the content directly; `openssl cms -sign` adds
 * attributes). Anything else is refused rather than guessed at.
 *
 * Which certificate signed is decided by the signature itself: the certificate in the envelope whose key verifies it.
 * The caller then decides whether that certificate is one it trusts (see attest-x509-chain.ts, attest-x509-signer.ts).
 *
 * Every certificate is read, key included, while parsing: a certificate Node can open but whose key it cannot import
 * is a parse error like any other ({@link DerError}), never an exception later on.
 *
 * @example
 * const envelope = readSignedData(Buffer.from(attested.signature, 'base64'));
 * const checked = checkSignedData(envelope, envelope.certificates);
 * if ('signer' in checked) JSON.parse(envelope.content.toString('utf8'));
 */
import { createHash, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { DerError, derChildren, derExpect, derOid, derTagged, readDer, TAG, type DerNode } from './attest-der.js';

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  contentTypeAttr: '1.2.840.113549.1.9.3',
  messageDigestAttr: '1.2.840.113549.1.9.4',
} as const;

type Hash = 'sha256' | 'sha384' | 'sha512';

/** Azure's envelope carries one certificate; a chain in the envelope is a few more. Past this it is not attested data. */
const MAX_CERTIFICATES = 8;

/** Digest algorithms, and the `…WithRSAEncryption` ids some signers (Azure among them) put in their place. */
const HASH_OF_OID: Record<string, Hash> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

export interface EnvelopeCertificate {
  cert: X509Certificate;
  publicKey: KeyObject;
}

export interface SignedData {
  /** The signed content, exactly as signed. */
  content: Buffer;
  /** Certificates carried in the envelope (the signer's, often some of its chain), each with its public key. */
  certificates: EnvelopeCertificate[];
  hash: Hash;
  /** What the signature is over: the content, or the DER of the signed attributes. */
  signedBytes: Buffer;
  signature: Buffer;
  /** The signed `messageDigest` attribute, when the signer used signed attributes. */
  messageDigest?: Buffer;
}

/** Parses the envelope; throws {@link DerError} on anything that is not the expected shape. */
export function readSignedData(bytes: Buffer): SignedData {
  const [contentType, explicit] = derExpect(readDer(bytes), TAG.sequence, 'ContentInfo', 2);
  if (derOid(contentType, 'ContentInfo.contentType') !== OID.signedData) throw new DerError('not a PKCS#7 SignedData envelope');
  const [signedData] = derExpect(explicit, TAG.context0, 'ContentInfo.content', 1);
  const fields = derExpect(signedData, TAG.sequence, 'SignedData', 4);
  const content = readContent(fields[2]);
  let next = 3;
  let certificates: EnvelopeCertificate[] = [];
  if (fields[next]?.tag === TAG.context0) {
    const nodes = derChildren(fields[next++]!);
    if (nodes.length > MAX_CERTIFICATES) throw new DerError(`the envelope carries ${nodes.length} certificates (at most ${MAX_CERTIFICATES} are read)`);
    certificates = nodes.map(readCertificate);
  }
  if (fields[next]?.tag === TAG.context1) next++; // CRLs: not used to decide anything here
  const signerInfos = derExpect(fields[next], TAG.set, 'SignedData.signerInfos');
  if (signerInfos.length !== 1) throw new DerError(`expected exactly one signer, found ${signerInfos.length}`);
  return { content, certificates, ...readSignerInfo(signerInfos[0]!, content) };
}

/**
 * Finds the certificate among `candidates` (the envelope's, by default) whose key made the signature, after checking
 * that the signed attributes (if any) commit to this content. Returns why not when none does.
 */
export function checkSignedData(signed: SignedData, candidates = signed.certificates): { signer: EnvelopeCertificate } | { problem: string } {
  if (signed.messageDigest) {
    const actual = createHash(signed.hash).update(signed.content).digest();
    if (!actual.equals(signed.messageDigest)) return { problem: 'the signed digest does not match the content: it was changed after signing' };
  }
  for (const candidate of candidates) {
    if (candidate.publicKey.asymmetricKeyType !== 'rsa') continue;
    if (verifies(signed, candidate.publicKey)) return { signer: candidate };
  }
  return {
    problem: 'the signature does not verify with any certificate in the envelope: the content was changed after signing, or its signer certificate is missing',
  };
}

/** A signature that OpenSSL cannot even process (a length that does not fit the key, say) does not verify. */
function verifies(signed: SignedData, key: KeyObject): boolean {
  try {
    return verify(signed.hash, signed.signedBytes, key, signed.signature);
  } catch {
    return false;
  }
}

function readContent(node: DerNode | undefined): Buffer {
  const [type, explicit] = derExpect(node, TAG.sequence, 'EncapsulatedContentInfo', 1);
  if (derOid(type, 'eContentType') !== OID.data) throw new DerError('signed content is not of type data');
  if (!explicit) throw new DerError('the envelope carries no content (a detached signature)');
  const [octets] = derExpect(explicit, TAG.context0, 'eContent', 1);
  return derTagged(octets, TAG.octetString, 'eContent').value;
}

function readCertificate(node: DerNode): EnvelopeCertificate {
  derTagged(node, TAG.sequence, 'certificate');
  try {
    const cert = new X509Certificate(node.raw);
    // Node reads the key only when asked: corrupt key data throws here, not in the middle of verifying.
    return { cert, publicKey: cert.publicKey };
  } catch (err) {
    throw new DerError(`a certificate in the envelope cannot be read: ${(err as Error).message}`);
  }
}

function readSignerInfo(node: DerNode, content: Buffer): Pick<SignedData, 'hash' | 'signedBytes' | 'signature' | 'messageDigest'> {
  const fields = derExpect(node, TAG.sequence, 'SignerInfo', 5);
  const hash = hashOf(fields[2]);
  let next = 3;
  let signedAttrs: DerNode | undefined;
  if (fields[next]?.tag === TAG.context0) signedAttrs = fields[next++];
  checkSignatureAlgorithm(fields[next++], hash);
  const signature = derTagged(fields[next], TAG.octetString, 'SignerInfo.signature').value;
  // Without signed attributes the signature is over the content itself.
  if (!signedAttrs) return { hash, signedBytes: content, signature };
  return { hash, signature, ...readSignedAttributes(signedAttrs) };
}

function hashOf(algorithm: DerNode | undefined): Hash {
  const [oid] = derExpect(algorithm, TAG.sequence, 'SignerInfo.digestAlgorithm', 1);
  const id = derOid(oid, 'digest algorithm');
  const hash = HASH_OF_OID[id];
  if (!hash) throw new DerError(`digest algorithm ${id} is not accepted (SHA-256, SHA-384 or SHA-512 only)`);
  return hash;
}

function checkSignatureAlgorithm(algorithm: DerNode | undefined, hash: Hash): void {
  const [oid] = derExpect(algorithm, TAG.sequence, 'SignerInfo.signatureAlgorithm', 1);
  const id = derOid(oid, 'signature algorithm');
  if (id !== OID.rsaEncryption && HASH_OF_OID[id] !== hash) throw new DerError(`signature algorithm ${id} is not RSA with ${hash}`);
}

/** Signed attributes are signed as a DER SET, though the envelope stores them under an IMPLICIT `[0]` tag. */
function readSignedAttributes(node: DerNode): Pick<SignedData, 'signedBytes' | 'messageDigest'> {
  let contentType: string | undefined;
  let messageDigest: Buffer | undefined;
  const seen = new Set<string>();
  for (const attribute of derChildren(node)) {
    const [type, values] = derExpect(attribute, TAG.sequence, 'signed attribute', 2);
    const id = derOid(type, 'signed attribute type');
    // RFC 5652 allows each attribute once; two digests would leave "which one counts" to the parser.
    if (seen.has(id)) throw new DerError(`signed attribute ${id} appears twice`);
    seen.add(id);
    const [value, extra] = derExpect(values, TAG.set, `signed attribute ${id}`, 1);
    if (extra) throw new DerError(`signed attribute ${id} has more than one value`);
    if (id === OID.contentTypeAttr) contentType = derOid(value, 'contentType attribute');
    if (id === OID.messageDigestAttr) messageDigest = derTagged(value, TAG.octetString, 'messageDigest attribute').value;
  }
  if (contentType !== OID.data) throw new DerError('signed attributes do not name the content type data');
  if (!messageDigest) throw new DerError('signed attributes carry no message digest');
  const signedBytes = Buffer.from(node.raw);
  signedBytes[0] = TAG.set;
  return { signedBytes, messageDigest };
}
