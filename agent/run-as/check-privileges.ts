/**
 * Whether this agent can start steps as another user: it runs as root, or holds CAP_SETUID and CAP_SETGID in its
 * effective set (the systemd unit's unprivileged `bitenvoy-agent` with ambient capabilities); and `setpriv`
 * (util-linux) is installed, through which every step drops every capability before the shell starts.
 *
 * @example
 * const setpriv = checkRunAsPrivileges(await readFile('/proc/self/status', 'utf8'), process.getuid?.(), findExecutable('setpriv')); // '/usr/bin/setpriv'
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';

const CAP_SETGID = 6n;
const CAP_SETUID = 7n;

/** True when the `CapEff:` line of a /proc/<pid>/status text holds both CAP_SETUID and CAP_SETGID. */
export function hasSetuidCapabilities(status: string): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex) return false;
  const effective = BigInt(`0x${hex}`);
  return ((effective >> CAP_SETUID) & 1n) === 1n && ((effective >> CAP_SETGID) & 1n) === 1n;
}

/**
 * The first executable `name` on PATH or in the usual system folders (a service's PATH may be short).
 *
 * @example
 * findExecutable('setpriv'); // '/usr/bin/setpriv', or undefined
 */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter).filter(Boolean), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Throws BE_USAGE, saying how to fix it, when `runAs` cannot work here; returns the path of `setpriv`.
 */
export function checkRunAsPrivileges(status: string, uid: number | undefined, setpriv: string | undefined): string {
  if (process.platform !== 'linux') {
    throw new BitEnvoyError('BE_USAGE', `runAs is supported on Linux only (this is ${process.platform}); remove runAs from agent.yml`);
  }
  if (uid !== 0 && !hasSetuidCapabilities(status)) {
    throw new BitEnvoyError(
      'BE_USAGE',
      `runAs needs an agent that may switch users: it runs as uid ${uid} without CAP_SETUID and CAP_SETGID. Run it as root, or give its service AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE CAP_KILL (\`bitenvoy agent install-service\` does when agent.yml sets runAs); or remove runAs from agent.yml`,
    );
  }
  if (!setpriv) {
    throw new BitEnvoyError('BE_USAGE', 'runAs needs `setpriv` (util-linux), which starts each step as its user with no capabilities left, and it is not installed: install util-linux (`apt-get install util-linux`, `dnf install util-linux`) or remove runAs from agent.yml');
  }
  return setpriv;
}
