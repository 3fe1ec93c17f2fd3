/**
 * Tools the tests use from the operating system (Debian's Chromium for the dashboard's browser test, the openssl
 * command for the cloud attestation tests): found where they are, or installed with apt-get when the tests run as
 * root on Debian or Ubuntu — so `npm install && npm test` passes on a fresh machine that has git. Anywhere else a
 * missing tool fails the test that needs it with a sentence saying how to install it.
 *
 * @example
 * const chromium = await ensureCommand({ command: 'chromium', paths: ['/usr/bin/chromium'], debianPackage: 'chromium' });
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RequiredCommand {
  /** The command's name, for messages and the PATH lookup. */
  command: string;
  /** Where to look first (absolute paths). */
  paths?: string[];
  /** The Debian package that brings it. */
  debianPackage: string;
  /** Why the tests need it, for the message when it cannot be had. */
  purpose: string;
}

/** Installs run one at a time, once per process: several test files may ask for the same package. */
const APT_LOCK_FILE = '/tmp/bitenvoy-tests-apt.lock';
const installs = new Map<string, Promise<void>>();

export async function ensureCommand(req: RequiredCommand): Promise<string> {
  const found = await locate(req);
  if (found) return found;
  const root = process.getuid?.() === 0;
  const apt = existsSync('/usr/bin/apt-get');
  if (!root || !apt) {
    throw new Error(
      `\`${req.command}\` is missing, and ${req.purpose} needs it: install it with \`sudo apt-get install -y ${req.debianPackage}\` (Debian/Ubuntu) or your system's package manager, then run the tests again`,
    );
  }
  let install = installs.get(req.debianPackage);
  if (!install) {
    install = (async () => {
      process.stderr.write(`tests: installing Debian's ${req.debianPackage} for ${req.purpose} (apt-get)\n`);
      // Test files run in several processes at once, each of which may find the command missing: one installs while
      // the others wait on a lock file (flock, from util-linux, which Debian always has), then find it installed. apt
      // itself waits a while for a lock held by anything else (unattended upgrades, another apt-get).
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const script = `command -v "$1" >/dev/null || {
  apt-get -o DPkg::Lock::Timeout=300 update -qq &&
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$2"
}`;
      await run('flock', ['-w', '900', APT_LOCK_FILE, 'sh', '-c', script, 'sh', req.command, req.debianPackage], { env, maxBuffer: 64 << 20 });
    })();
    installs.set(req.debianPackage, install);
  }
  await install;
  const installed = await locate(req);
  if (!installed) throw new Error(`apt-get installed ${req.debianPackage}, but \`${req.command}\` is still not found`);
  return installed;
}

async function locate(req: RequiredCommand): Promise<string | undefined> {
  for (const path of req.paths ?? []) if (existsSync(path)) return path;
  const found = await run('sh', ['-c', `command -v ${req.command}`]).catch(() => undefined);
  return found?.stdout.trim() || undefined;
}
