/**
 * The token server of the testbed's OCI registry, doing what GHCR's does: `GET /token?service=…&scope=…` answers a
 * JWT that the registry trusts because it is signed by the key of a certificate in the registry's `rootcertbundle`.
 * Anonymous callers may pull (unless `anonymousPull: false`, when their token grants nothing, as for a private
 * package); callers with Basic credentials from `users` may pull and push. Listens on 127.0.0.1, port 0.
 *
 * @example
 * const tokens = await startOciTokenServer(dir, { users: { ci: 'secret' } });
 * const push = tokens.mint('acme/site', ['pull', 'push']);
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureCommand } from './ensure-command.js';

export interface OciTokenServerOptions {
  /** Anonymous callers get pull access (default true); false makes every repository private. */
  anonymousPull?: boolean;
  /** User name → password, for Basic credentials on the token request. */
  users?: Record<string, string>;
}

export interface OciTokenServer {
  /** `http://127.0.0.1:PORT/token`, the realm the registry names in its challenge. */
  realm: string;
  /** `127.0.0.1:PORT`: list it in `insecureRegistries` beside the registry. */
  host: string;
  service: string;
  issuer: string;
  certificatePath: string;
  /** Token requests answered so far, and how many carried credentials. */
  requests(): { total: number; withCredentials: number };
  /** A token for `repository` with these actions, as the token server would issue it. */
  mint(repository: string, actions: string[]): string;
  close(): Promise<void>;
}

const SERVICE = 'bitenvoy-testbed-registry';
const ISSUER = 'bitenvoy-testbed-token-server';

export async function startOciTokenServer(dir: string, options: OciTokenServerOptions): Promise<OciTokenServer> {
  const openssl = await ensureCommand({ command: 'openssl', debianPackage: 'openssl', purpose: "the OCI registry's token auth" });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyPath = join(dir, 'token-key.pem');
  const certificatePath = join(dir, 'token-cert.pem');
  await writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await promisify(execFile)(openssl, ['req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=bitenvoy-testbed-token', '-days', '2', '-out', certificatePath]);
  const kid = libtrustKeyId(publicKey);
  const mint = (repository: string, actions: string[]) => signJwt(privateKey, kid, repository, actions);
  let total = 0;
  let withCredentials = 0;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    if (url.pathname !== '/token') return void res.writeHead(404).end();
    total++;
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    let user: string | undefined;
    if (basic) {
      withCredentials++;
      const [name, ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      if (options.users?.[name!] === undefined || options.users[name!] !== rest.join(':')) return void res.writeHead(401).end('{"details":"wrong credentials"}');
      user = name;
    }
    // `scope=repository:acme/site:pull,push`; the registry's challenge asks for exactly what the request needs.
    const scope = /^repository:([^:]+):([a-z,*]+)$/.exec(url.searchParams.get('scope') ?? '');
    const allowed = user !== undefined ? ['pull', 'push'] : options.anonymousPull === false ? [] : ['pull'];
    const granted = scope ? scope[2]!.split(',').filter((action) => allowed.includes(action)) : [];
    const token = mint(scope?.[1] ?? '', granted);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    realm: `http://${host}/token`,
    host,
    service: SERVICE,
    issuer: ISSUER,
    certificatePath,
    requests: () => ({ total, withCredentials }),
    mint,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

function signJwt(key: KeyObject, kid: string, repository: string, actions: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'ES256', kid };
  const claims = {
    iss: ISSUER,
    sub: 'testbed',
    aud: SERVICE,
    iat: now,
    nbf: now - 10,
    exp: now + 300,
    jti: randomUUID(),
    access: actions.length > 0 ? [{ type: 'repository', name: repository, actions }] : [],
  };
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(claims)}`;
  // JWS ES256 signatures are r‖s (IEEE P1363), not DER.
  const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

/**
 * The key id the registry gives each key of its root certificates (docker's libtrust): the SHA-256 of the DER public
 * key, cut to 240 bits, in base32 without padding, in colon-separated groups of four. A token whose `kid` matches is
 * checked with that key.
 */
function libtrustKeyId(publicKey: KeyObject): string {
  const hash = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of hash) bits += byte.toString(2).padStart(8, '0');
  let text = '';
  for (let i = 0; i < bits.length; i += 5) text += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return text.match(/.{1,4}/g)!.join(':');
}
