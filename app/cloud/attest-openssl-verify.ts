/**
 * OpenSSL's certificate path validation (`openssl verify`, X509_verify_cert) for the Azure signer — the maintained
 * verifier, used instead of a hand-written one. Node's own OpenSSL does not expose path validation (only TLS
 * handshakes use it), so this runs the `openssl` command the hub host has: OpenSSL 3.0 or newer, checked at start
 * ({@link checkOpensslVerifier}). About 10 ms a run; accepted paths are remembered (attest-x509-chain.ts).
 *
 * Why not PKI.js (`CertificateChainValidationEngine`, 4.0.0), the JavaScript candidate: tried on the same chains, it
 * accepted a sub-CA that widens its parent's name constraints (it unions permitted subtrees instead of intersecting),
 * a signer named only in its common name under a name-constrained CA, a CA below a `pathlen:0` CA (the constraint is
 * parsed, never enforced), and a CA or code-signing signer (the leaf is not checked); and on two CAs that issued each
 * other it never returned (its path search has no visited set). OpenSSL refused all of them in milliseconds.
 *
 * What the command is told, and why:
 * - `-CAfile` holds only the operator's roots; `-no-CApath -no-CAstore` keep the system's CA store out (without them
 *   `openssl verify` trusts every public CA as well). `-partial_chain` lets a configured certificate that is not
 *   self-signed (a pinned intermediate configured as a root, or a self-signed signer) be an anchor.
 * - `-untrusted` holds the candidate intermediates the caller chose; nothing else is used to build a path.
 * - `-x509_strict` (RFC 5280 profile checks), `-purpose sslserver` (the signer is a TLS server certificate for
 *   metadata.azure.com: serverAuth when it has an extended key usage, and every CA above must be allowed to issue
 *   that), `-verify_depth 4`, `-attime` the hub's clock. Name constraints, basicConstraints, path length, key usage
 *   of CAs and unknown critical extensions are checked by default.
 *
 * The child gets only `PATH` (no SSL_CERT_FILE/SSL_CERT_DIR can add anchors), a timeout, and at most two run at once.
 *
 * @example
 * const verdict = await opensslVerifyPath({ leaf: signer, anchors: roots, untrusted: intermediates, at: Date.now() });
 * if (!verdict.ok) refuse('wrong-signer', verdict.problem);
 */
import { execFile, execFileSync } from 'node:child_process';
import type { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';

export interface PathInput {
  leaf: X509Certificate;
  /** The only trust anchors. */
  anchors: X509Certificate[];
  /** Candidate intermediates, trusted for nothing: every constraint of a CA on the path must hold. */
  untrusted: X509Certificate[];
  /** The moment the path must be valid at (epoch ms). */
  at: number;
}

export type PathVerdict = { ok: true } | { ok: false; problem: string };

const TIMEOUT_MS = 10_000;
const MAX_RUNNING = 2;
/** Leaf, up to four CAs, anchor: real Azure paths have one intermediate. */
const MAX_DEPTH = 4;

let running = 0;
const waiting: Array<() => void> = [];

/** Whether OpenSSL's verifier accepts `leaf` under `anchors` at `at`, and if not, why (in OpenSSL's words). */
export async function opensslVerifyPath(input: PathInput): Promise<PathVerdict> {
  await slot();
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(tmpdir(), 'bitenvoy-verify-'));
    const file = (name: string) => join(dir!, name);
    await Promise.all([
      writeFile(file('anchors.pem'), pem(input.anchors), { mode: 0o600 }),
      writeFile(file('untrusted.pem'), pem(input.untrusted), { mode: 0o600 }),
      writeFile(file('leaf.pem'), pem([input.leaf]), { mode: 0o600 }),
    ]);
    const args = [
      'verify', '-no-CApath', '-no-CAstore', '-CAfile', file('anchors.pem'), '-partial_chain',
      '-x509_strict', '-purpose', 'sslserver', '-verify_depth', String(MAX_DEPTH), '-attime', String(Math.floor(input.at / 1000)),
      ...(input.untrusted.length ? ['-untrusted', file('untrusted.pem')] : []),
      file('leaf.pem'),
    ];
    const { code, output } = await run(args);
    if (code === 0 && /: OK\s*$/.test(output)) return { ok: true };
    return { ok: false, problem: describeFailure(output) };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
    release();
  }
}

/**
 * Throws a usage error naming `variable` unless `openssl` 3.0 or newer is on PATH: a hub configured for Azure
 * attestation must not find out at the first agent's attestation that it cannot check any.
 */
export function checkOpensslVerifier(variable: string): void {
  const fix = 'install OpenSSL 3 on the hub host (Debian/Ubuntu: `apt-get install openssl`; it is in most base images)';
  let version: string;
  try {
    version = execFileSync('openssl', ['version'], { encoding: 'utf8', env: childEnv(), timeout: TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (err) {
    throw new BitEnvoyError('BE_USAGE', `${variable} is set: the hub checks Azure signer certificates with OpenSSL's verifier, but \`openssl version\` failed (${(err as Error).message}); ${fix}`);
  }
  const major = /^OpenSSL (\d+)\./.exec(version)?.[1];
  if (!major || Number(major) < 3) {
    throw new BitEnvoyError('BE_USAGE', `${variable} is set: the hub checks Azure signer certificates with OpenSSL's verifier, which must be OpenSSL 3.0 or newer (found "${version}"); ${fix}`);
  }
}

function run(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { env: childEnv(), timeout: TIMEOUT_MS, maxBuffer: 64 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `${stdout}\n${stderr}`;
      if (!err) return resolve({ code: 0, output });
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new BitEnvoyError('BE_INTERNAL', 'the hub cannot check Azure signer certificates: the `openssl` command is not installed on the hub host', { cause: err }));
      }
      if (err.killed) return resolve({ code: -1, output: `error 0 at 0 depth lookup: OpenSSL's verifier did not answer within ${TIMEOUT_MS / 1000} s` });
      resolve({ code: typeof err.code === 'number' ? err.code : -1, output });
    });
  });
}

/** OpenSSL prints the certificate's subject, then `error <n> at <depth> depth lookup: <reason>`. */
function describeFailure(output: string): string {
  const lines = output.split('\n').map((line) => line.trim());
  const at = lines.findIndex((line) => /^error \d+ at \d+ depth lookup: /.test(line));
  if (at < 0) return `OpenSSL's verifier refused it without saying why (${lines.filter(Boolean).slice(-1)[0] ?? 'no output'})`;
  const [, depth, reason] = /^error \d+ at (\d+) depth lookup: (.*)$/.exec(lines[at]!)!;
  const subject = at > 0 && lines[at - 1] && !lines[at - 1]!.startsWith('error') ? ` (${lines[at - 1]})` : '';
  const which = depth === '0' ? 'the signer certificate' : `the certificate ${depth} above the signer`;
  return `OpenSSL's verifier refused ${which}${subject}: ${reason}`;
}

function pem(certificates: X509Certificate[]): string {
  return certificates.map((certificate) => certificate.toString()).join('\n');
}

function childEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
}

async function slot(): Promise<void> {
  if (running < MAX_RUNNING) {
    running++;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function release(): void {
  const next = waiting.shift();
  if (next) next();
  else running--;
}
