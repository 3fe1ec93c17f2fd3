/**
 * Real certificates and PKCS#7 envelopes for attestation tests, made in a temporary directory: keys by Node, X.509
 * certificates and CMS signatures by the `openssl` CLI (Node can verify certificates but not make them). Nothing is
 * checked in; every run makes its own roots, so no test can pass on a stale fixture.
 *
 * @example
 * const pki = await TestPki.create();
 * const root = pki.root('Test Root');
 * const leaf = pki.issue('metadata.azure.com', root, { dns: ['eastus.metadata.azure.com'] });
 * const envelope = pki.cmsSign(Buffer.from('{"nonce":"1"}'), leaf);
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** openssl `x509v3_config` values; `null` leaves the extension out, undefined keeps the CA or end-entity default. */
export interface Extensions {
  /** e.g. `critical, CA:TRUE` for a CA signer; default from `ca` (and `pathLen`). */
  basicConstraints?: string | null;
  /** `pathlen:` of a CA's basicConstraints. */
  pathLen?: number;
  /** e.g. `critical, digitalSignature`. */
  keyUsage?: string | null;
  /** e.g. `codeSigning` or `serverAuth, clientAuth`; none by default. */
  extKeyUsage?: string;
  /** e.g. `permitted;DNS:.example.org` (made critical). */
  nameConstraints?: string;
}

export interface Issued {
  name: string;
  certPem: string;
  certPath: string;
  keyPath: string;
  cert: X509Certificate;
  privateKey: KeyObject;
}

export class TestPki {
  readonly dir: string;
  #count = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(): Promise<TestPki> {
    return new TestPki(mkdtempSync(join(tmpdir(), 'bitenvoy-pki-')));
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A self-signed certificate: a CA root, or (ca: false) a bare key carrier like AWS's identity certificates. */
  root(name: string, options: { ca?: boolean; days?: number; keyType?: 'rsa' | 'ec' } = {}): Issued {
    const { keyPath, privateKey } = this.#key(options.keyType);
    const certPath = this.#path('pem');
    const ext = this.#extensions({ ca: options.ca ?? true });
    this.#openssl(['req', '-new', '-x509', '-key', keyPath, '-out', certPath, '-days', String(options.days ?? 3650), '-subj', `/CN=${name}`, '-config', ext, '-extensions', 'v3']);
    return this.#issued(name, certPath, keyPath, privateKey);
  }

  /** A certificate for `name` signed by `issuer`; `extensions` shape it for the attacks path validation must stop. */
  issue(name: string, issuer: Issued, options: { ca?: boolean; days?: number; dns?: string[] } & Extensions = {}): Issued {
    const { keyPath, privateKey } = this.#key();
    const csrPath = this.#path('csr');
    const certPath = this.#path('pem');
    const ext = this.#extensions({ ...options, ca: options.ca ?? false, issued: true });
    this.#openssl(['req', '-new', '-key', keyPath, '-out', csrPath, '-subj', `/CN=${name}`, '-config', ext]);
    this.#openssl([
      'x509', '-req', '-in', csrPath, '-CA', issuer.certPath, '-CAkey', issuer.keyPath, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', String(options.days ?? 365), '-out', certPath, '-extfile', ext, '-extensions', 'v3',
    ]);
    return this.#issued(name, certPath, keyPath, privateKey);
  }

  /** A DER PKCS#7 SignedData carrying `content`, signed by `signer` with SHA-256, with the given extra certificates. */
  cmsSign(content: Buffer, signer: Issued, options: { extraCerts?: Issued[]; signedAttributes?: boolean; includeSigner?: boolean } = {}): Buffer {
    const contentPath = this.#path('json');
    writeFileSync(contentPath, content);
    const out = this.#path('p7');
    const args = ['cms', '-sign', '-binary', '-nodetach', '-md', 'sha256', '-in', contentPath, '-signer', signer.certPath, '-inkey', signer.keyPath, '-outform', 'DER', '-out', out];
    if (options.signedAttributes === false) args.push('-noattr');
    if (options.includeSigner === false) args.push('-nocerts');
    if (options.extraCerts?.length) {
      const bundle = this.#path('pem');
      writeFileSync(bundle, options.extraCerts.map((c) => c.certPem).join(''));
      args.push('-certfile', bundle);
    }
    this.#openssl(args);
    return readFileSync(out);
  }

  #key(type: 'rsa' | 'ec' = 'rsa'): { keyPath: string; privateKey: KeyObject } {
    const { privateKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPath = this.#path('key');
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    return { keyPath, privateKey };
  }

  #extensions(options: { ca: boolean; dns?: string[]; issued?: boolean } & Extensions): string {
    const lines = ['[req]', 'distinguished_name = dn', '[dn]', '[v3]', 'subjectKeyIdentifier = hash'];
    // Issued certificates name their issuer's key, as RFC 5280 (and OpenSSL's -x509_strict) want.
    if (options.issued) lines.push('authorityKeyIdentifier = keyid');
    const pathLen = options.pathLen === undefined ? '' : `, pathlen:${options.pathLen}`;
    if (options.basicConstraints !== null) lines.push(`basicConstraints = ${options.basicConstraints ?? (options.ca ? `critical, CA:TRUE${pathLen}` : 'critical, CA:FALSE')}`);
    const keyUsage = options.keyUsage === undefined ? (options.ca ? 'critical, keyCertSign, cRLSign, digitalSignature' : 'critical, digitalSignature') : options.keyUsage;
    if (keyUsage !== null) lines.push(`keyUsage = ${keyUsage}`);
    if (options.extKeyUsage) lines.push(`extendedKeyUsage = ${options.extKeyUsage}`);
    if (options.nameConstraints) lines.push(`nameConstraints = critical, ${options.nameConstraints}`);
    if (options.dns?.length) lines.push(`subjectAltName = ${options.dns.map((d) => `DNS:${d}`).join(', ')}`);
    const path = this.#path('cnf');
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  }

  #issued(name: string, certPath: string, keyPath: string, privateKey: KeyObject): Issued {
    const certPem = readFileSync(certPath, 'utf8');
    return { name, certPem, certPath, keyPath, cert: new X509Certificate(certPem), privateKey };
  }

  #path(ext: string): string {
    return join(this.dir, `f${++this.#count}.${ext}`);
  }

  #openssl(args: string[]): void {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

/** Azure IMDS's timestamp form, e.g. `11/30/20 21:19:19 -0000`. */
export function azureTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} -0000`;
}
