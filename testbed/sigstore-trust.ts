/**
 * A stand-in for GitHub's artifact attestation signing, for the agent's provenance tests: a Fulcio-style CA (root and
 * intermediate), a Rekor-style transparency log key, a CT log key and an RFC 3161 timestamp authority, named in a
 * Sigstore `trusted_root.json` — and a signer that turns (artifact digest, repository, workflow, commit) into a
 * Sigstore bundle v0.3 the way `actions/attest-build-provenance` does: an in-toto statement with a SLSA provenance v1
 * predicate in a DSSE envelope, signed by a ten-minute leaf certificate that carries the workflow identity in Fulcio's
 * extensions, logged as a `dsse` 0.0.1 entry with a signed entry timestamp and an inclusion proof under a signed
 * checkpoint. Every part can be made wrong on purpose (another CA, another log, a certificate outside its validity).
 * Nothing is checked in: every run makes its own keys.
 *
 * @example
 * const trust = await SigstoreTrust.create();
 * const bundle = trust.sign({ sha256: digest, repository: 'acme/shop', workflow: '.github/workflows/build.yml', commit });
 * await verifyProvenance({ sha256: digest, bundles: [bundle], require, trustRoot: await loadTrustRoot(trust.trustedRootPath) });
 */
import { createHash, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tbsCertificateDer } from './sigstore-der.js';
import { fulcioExtensions, type IdentityInput } from './sigstore-identity.js';
import { SigstorePki, type Cert, type KeyPair } from './sigstore-pki.js';
import { logIdOf, SCT_LIST_OID, signPrecertificate } from './sigstore-sct.js';
import { logEntry } from './sigstore-tlog.js';
import { timestampSignature } from './sigstore-tsa.js';

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';
export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const VALID_FROM = '2020-01-01T00:00:00Z';

/**
 * What to sign: the workflow identity of {@link IdentityInput} (its `ref` defaults to `refs/heads/main`, its issuer to
 * GitHub Actions'; `identity` writes other certificate extension values, `null` leaves one out), and the statement.
 */
export interface SignOptions extends IdentityInput {
  /** The artifact's SHA-256 (hex); several make a statement with several subjects. */
  sha256: string | string[];
  /** The DSSE payload type, default `application/vnd.in-toto+json`. */
  payloadType?: string;
  /** Changes the in-toto statement before it is signed. */
  statement?: (statement: Record<string, unknown>) => Record<string, unknown>;
  /**
   * Which CA issues the leaf: the trusted one (default), one the trust root does not name, or an impostor with the
   * trusted intermediate's name and key identifier but its own key.
   */
  ca?: 'trusted' | 'foreign' | 'impostor';
  /** Which log records the signature: the trusted one (default), one the trust root does not name, or none. */
  tlog?: 'trusted' | 'foreign' | 'none';
  /** Adds an RFC 3161 timestamp of the signature by the trusted timestamp authority. */
  timestampAuthority?: boolean;
  /** Signs the envelope with another key than the certificate's (a forgery that is otherwise logged properly). */
  forgeSignature?: boolean;
  /** Embeds an SCT by the trusted CT log (default true), or by a CT log the trust root does not name. */
  sct?: boolean | 'foreign';
  /** When the log says it was signed (its integrated time), default now (the test CAs were made moments ago). */
  signedAt?: Date;
  /** The leaf's validity, default from a minute before `signedAt` to ten minutes after (Fulcio's). */
  leafValidity?: { notBefore: Date; notAfter: Date };
}

interface Authority {
  root: Cert;
  intermediate: Cert;
}

export class SigstoreTrust {
  readonly dir: string;
  readonly trustedRootPath: string;
  readonly pki: SigstorePki;
  readonly ca: Authority;
  readonly foreignCa: Authority;
  readonly impostorCa: Authority;
  readonly tlog: KeyPair;
  readonly foreignTlog: KeyPair;
  readonly ctlog: KeyPair;
  readonly tsa: Authority;

  private constructor(dir: string) {
    this.dir = dir;
    this.pki = new SigstorePki(dir);
    this.ca = this.#authority('Test Fulcio');
    this.foreignCa = this.#authority('Other Fulcio');
    // 'hash' key identifiers are SHA-1 of the public key's bits: the last 65 bytes of a P-256 SPKI.
    const trustedKeyId = createHash('sha1').update(this.ca.intermediate.spki.subarray(-65)).digest();
    this.impostorCa = { root: this.foreignCa.root, intermediate: this.pki.issueCa('Test Fulcio Intermediate', this.foreignCa.root, { subjectKeyId: trustedKeyId }) };
    this.tlog = this.pki.key();
    this.foreignTlog = this.pki.key();
    this.ctlog = this.pki.key();
    const tsaRoot = this.pki.selfSigned('Test TSA Root');
    this.tsa = { root: tsaRoot, intermediate: this.pki.issueCa('Test TSA', tsaRoot, { extKeyUsage: 'critical, timeStamping' }) };
    this.trustedRootPath = this.writeTrustedRoot();
  }

  static async create(): Promise<SigstoreTrust> {
    return new SigstoreTrust(mkdtempSync(join(tmpdir(), 'bitenvoy-sigstore-')));
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The Sigstore TrustedRoot naming this CA, log, CT log and TSA (`ctlogs: false` leaves the CT log out). */
  trustedRoot(options: { ctlogs?: boolean } = {}): Record<string, unknown> {
    const log = (key: KeyPair, baseUrl: string) => ({
      baseUrl,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: key.spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: VALID_FROM } },
      logId: { keyId: logIdOf(key).toString('base64') },
    });
    const authority = (a: Authority, uri: string) => ({
      subject: { organization: 'bitenvoy.test', commonName: uri },
      uri,
      certChain: { certificates: [a.intermediate, a.root].map((c) => ({ rawBytes: c.der.toString('base64') })) },
      validFor: { start: VALID_FROM },
    });
    return {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [log(this.tlog, 'https://rekor.test.invalid')],
      certificateAuthorities: [authority(this.ca, 'https://fulcio.test.invalid')],
      ctlogs: options.ctlogs === false ? [] : [log(this.ctlog, 'https://ctfe.test.invalid')],
      timestampAuthorities: [authority(this.tsa, 'https://tsa.test.invalid')],
    };
  }

  /** Writes {@link trustedRoot} to a new file and returns its path. */
  writeTrustedRoot(options: { ctlogs?: boolean } = {}): string {
    const path = this.pki.path('json');
    writeFileSync(path, JSON.stringify(this.trustedRoot(options), null, 2));
    return path;
  }

  /** A Sigstore bundle v0.3 (JSON, as GitHub's attestations API returns it) attesting `options.sha256`. */
  sign(options: SignOptions): Record<string, unknown> {
    const signedAt = new Date(Math.floor((options.signedAt?.getTime() ?? Date.now()) / 1000) * 1000);
    const payloadType = options.payloadType ?? 'application/vnd.in-toto+json';
    const statement = (options.statement ?? ((s) => s))(provenanceStatement(options));
    const payload = Buffer.from(JSON.stringify(statement));
    const key = this.pki.key();
    const signingKey = options.forgeSignature ? this.pki.key() : key;
    const signature = sign('sha256', preAuthEncoding(payloadType, payload), signingKey.privateKey);
    const leaf = this.#leaf(key, options, signedAt);
    const envelope = { payload: payload.toString('base64'), payloadType, signatures: [{ sig: signature.toString('base64'), keyid: '' }] };
    const tlogEntries =
      options.tlog === 'none' ? [] : [logEntry({ log: options.tlog === 'foreign' ? this.foreignTlog : this.tlog, envelope, payload, signature, leaf, signedAt })];
    const verificationMaterial: Record<string, unknown> = { certificate: { rawBytes: leaf.der.toString('base64') }, tlogEntries };
    if (options.timestampAuthority) {
      verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: timestampSignature(this.pki, this.tsa.intermediate, signature).toString('base64') }] };
    }
    return { mediaType: BUNDLE_V03_MEDIA_TYPE, verificationMaterial, dsseEnvelope: envelope };
  }

  #leaf(key: KeyPair, options: SignOptions, signedAt: Date): Cert {
    const issuer = (options.ca === 'foreign' ? this.foreignCa : options.ca === 'impostor' ? this.impostorCa : this.ca).intermediate;
    const validity = options.leafValidity ?? { notBefore: new Date(signedAt.getTime() - 60_000), notAfter: new Date(signedAt.getTime() + 600_000) };
    const base = { ...validity, serialHex: randomBytes(16).toString('hex'), extensions: fulcioExtensions(options) };
    if (options.sct === false) return this.pki.issueLeaf(key, issuer, base);
    // Fulcio's order: the CT log signs the certificate without its SCT extension, then the SCT goes in as the last one.
    const precert = this.pki.issueLeaf(key, issuer, base);
    const sct = signPrecertificate({ tbs: tbsCertificateDer(precert.der), issuerSpki: issuer.spki, log: options.sct === 'foreign' ? this.foreignTlog : this.ctlog, timestamp: signedAt });
    return this.pki.issueLeaf(key, issuer, { ...base, extensions: [...base.extensions, { oid: SCT_LIST_OID, der: sct }] });
  }

  #authority(name: string): Authority {
    const root = this.pki.selfSigned(`${name} Root`);
    return { root, intermediate: this.pki.issueCa(`${name} Intermediate`, root) };
  }
}

/** The statement GitHub's build provenance action signs: in-toto v1, SLSA provenance v1, the workflow and commit. */
function provenanceStatement(options: SignOptions): Record<string, unknown> {
  const digests = typeof options.sha256 === 'string' ? [options.sha256] : options.sha256;
  const ref = options.ref ?? 'refs/heads/main';
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: digests.map((sha256, i) => ({ name: `artifact-${i}.tar.gz`, digest: { sha256 } })),
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: 'https://actions.github.io/buildtypes/workflow/v1',
        externalParameters: { workflow: { ref, repository: `https://github.com/${options.repository}`, path: options.workflow } },
        resolvedDependencies: [{ uri: `git+https://github.com/${options.repository}@${ref}`, digest: { gitCommit: options.commit } }],
      },
      runDetails: { builder: { id: 'https://github.com/actions/runner/github-hosted' }, metadata: { invocationId: 'https://github.com/test/runs/1' } },
    },
  };
}

/** DSSE's pre-authentication encoding: what the leaf key actually signs. */
function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}
