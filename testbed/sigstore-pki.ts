/**
 * Keys and X.509 certificates for the Sigstore test material, made in a temporary directory: keys by Node, certificates
 * by the `openssl` command. CA certificates use `openssl req`/`x509`; Fulcio-style leaves use `openssl ca`, the only
 * subcommand of OpenSSL 3.0 that takes exact validity dates — needed to issue a ten-minute certificate at a chosen
 * signing time, and to issue the same to-be-signed certificate twice (once to have a CT log sign it, once with the SCT).
 *
 * @example
 * const pki = new SigstorePki(dir);
 * const root = pki.selfSigned('Test Root');
 * const intermediate = pki.issueCa('Test Intermediate', root);
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface KeyPair {
  keyPath: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo: what trusted_root.json holds for a log, and what log ids are hashed from. */
  spki: Buffer;
}

export interface Cert extends KeyPair {
  certPath: string;
  der: Buffer;
}

/** An extension line for openssl's config: its OID, whether critical, and its DER value. */
export interface RawExtension {
  oid: string;
  critical?: boolean;
  der: Buffer;
}

export class SigstorePki {
  readonly dir: string;
  #count = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** A fresh P-256 key, as Fulcio clients and Rekor use. */
  key(): KeyPair {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyPath = this.#path('key');
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    return { keyPath, privateKey, publicKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
  }

  /** A self-signed CA certificate, valid ten years. */
  selfSigned(name: string): Cert {
    const key = this.key();
    const certPath = this.#path('pem');
    const ext = this.#config(['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash']);
    this.#openssl(['req', '-new', '-x509', '-key', key.keyPath, '-out', certPath, '-days', '3650', '-subj', `/O=bitenvoy.test/CN=${name}`, '-config', ext, '-extensions', 'v3']);
    return this.#cert(key, certPath);
  }

  /** A certificate for an intermediate CA (default) or, with `extKeyUsage`, a leaf such as a timestamp authority. */
  issueCa(name: string, issuer: Cert, options: { extKeyUsage?: string; subjectKeyId?: Buffer } = {}): Cert {
    const key = this.key();
    const lines = options.extKeyUsage
      ? ['basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature', `extendedKeyUsage = ${options.extKeyUsage}`]
      : ['basicConstraints = critical, CA:TRUE, pathlen:0', 'keyUsage = critical, keyCertSign, cRLSign'];
    // An impostor CA copies another's name and key identifier, so that only the signature check tells them apart.
    const ski = options.subjectKeyId ? [...options.subjectKeyId].map((b) => b.toString(16).padStart(2, '0')).join(':') : 'hash';
    const ext = this.#config([...lines, `subjectKeyIdentifier = ${ski}`, 'authorityKeyIdentifier = keyid']);
    const csrPath = this.#path('csr');
    const certPath = this.#path('pem');
    this.#openssl(['req', '-new', '-key', key.keyPath, '-out', csrPath, '-subj', `/O=bitenvoy.test/CN=${name}`, '-config', ext]);
    this.#openssl([
      'x509', '-req', '-in', csrPath, '-CA', issuer.certPath, '-CAkey', issuer.keyPath, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', '3650', '-out', certPath, '-extfile', ext, '-extensions', 'v3',
    ]);
    return this.#cert(key, certPath);
  }

  /**
   * A code-signing leaf for `key`, signed by `issuer`, valid exactly from `notBefore` to `notAfter`, with the given
   * serial and extensions in the given order. Same inputs give the same to-be-signed certificate.
   */
  issueLeaf(key: KeyPair, issuer: Cert, options: { notBefore: Date; notAfter: Date; serialHex: string; extensions: RawExtension[] }): Cert {
    const caDir = this.#path('ca');
    mkdirSync(caDir);
    writeFileSync(join(caDir, 'index.txt'), '');
    writeFileSync(join(caDir, 'serial'), `${options.serialHex}\n`);
    const caConfig = this.#config([], [
      '[ca]', 'default_ca = leaf_ca', '[leaf_ca]', `database = ${caDir}/index.txt`, `new_certs_dir = ${caDir}`, `serial = ${caDir}/serial`,
      'default_md = sha256', 'policy = any_name', 'unique_subject = no', 'email_in_dn = no', 'preserve = yes', '[any_name]', 'organizationName = optional',
    ]);
    const lines = [
      'keyUsage = critical, digitalSignature', 'extendedKeyUsage = codeSigning', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid',
      ...options.extensions.map((e) => `${e.oid} = ${e.critical ? 'critical, ' : ''}DER:${e.der.toString('hex')}`),
    ];
    const ext = this.#config(lines);
    const csrPath = this.#path('csr');
    const certPath = this.#path('pem');
    this.#openssl(['req', '-new', '-key', key.keyPath, '-out', csrPath, '-subj', '/O=sigstore.test', '-config', ext]);
    this.#openssl([
      'ca', '-batch', '-notext', '-config', caConfig, '-cert', issuer.certPath, '-keyfile', issuer.keyPath, '-in', csrPath, '-out', certPath,
      '-startdate', opensslTime(options.notBefore), '-enddate', opensslTime(options.notAfter), '-extfile', ext, '-extensions', 'v3',
    ]);
    return this.#cert(key, certPath);
  }

  /** Runs openssl in the working directory; its stderr is kept in the thrown error. */
  openssl(args: string[]): void {
    this.#openssl(args);
  }

  /** A new file name in the working directory. */
  path(ext: string): string {
    return this.#path(ext);
  }

  #cert(key: KeyPair, certPath: string): Cert {
    const pem = readFileSync(certPath, 'utf8');
    const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    return { ...key, certPath, der: Buffer.from(body, 'base64') };
  }

  #config(v3: string[], head: string[] = []): string {
    const path = this.#path('cnf');
    writeFileSync(path, [...head, '[req]', 'distinguished_name = dn', '[dn]', '[v3]', ...v3].join('\n') + '\n');
    return path;
  }

  #path(ext: string): string {
    return join(this.dir, `f${++this.#count}.${ext}`);
  }

  #openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

/** `YYYYMMDDHHMMSSZ`, the GeneralizedTime form `openssl ca -startdate/-enddate` takes. */
function opensslTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
}
