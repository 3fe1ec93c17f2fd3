/**
 * What `bitenvoy agent install` sets up, whatever the service manager: the agent directory, the user the agent runs
 * as, the command that starts it, the paths it may write and whether its steps switch users (`runAs` in agent.yml).
 * The renderers (`render-systemd-unit.ts`, `render-launchd-plist.ts`, `render-windows-task.ts`) turn it into files.
 */
import { posix, win32 } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';

export interface ServiceSpec {
  /** The agent directory, absolute (it holds agent.json and agent.yml). */
  dir: string;
  /** The user (and group of the same name) the agent runs as; unused on Windows (the task runs as SYSTEM). */
  user: string;
  /** The command that starts the agent, absolute paths: `[exe, 'agent', 'run', '--dir', dir]` or `[node, cli.js, …]`. */
  command: string[];
  /** Paths the agent may write besides its directory: the deploy targets its steps write to. */
  writable: string[];
  /** True when agent.yml has `runAs`: the agent needs the capabilities to run steps as other users. */
  runAs: boolean;
  /** True when agent.yml has `limits`: the agent bounds its steps in cgroups of its own (delegated to it). */
  limits?: boolean;
}

/** The service's name for each service manager. */
export const SERVICE_NAMES = { systemd: 'bitenvoy-agent.service', launchd: 'dev.bitenvoy.agent', windows: 'BitEnvoyAgent' } as const;

/** The defaults the templates under `templates/` are rendered with. */
export const DEFAULT_SPEC: ServiceSpec = {
  dir: '/var/lib/bitenvoy-agent',
  user: 'bitenvoy-agent',
  command: ['/usr/local/bin/bitenvoy-agent', 'agent', 'run', '--dir', '/var/lib/bitenvoy-agent'],
  writable: [],
  runAs: false,
};

/** How long a stopping agent may take: its step's SIGTERM→SIGKILL grace (10 s) and its last reports (5 s), with room. */
export const STOP_TIMEOUT_SECONDS = 30;

/**
 * Refuses a path a unit file cannot carry as it is: relative, or with spaces, quotes, `%`, `\` or control
 * characters (systemd would read them as separators or specifiers). Returns the path.
 *
 * @example
 * checkServicePath('/srv/www', '--writable'); // '/srv/www'
 */
export function checkServicePath(path: string, what: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    if (!win32.isAbsolute(path)) throw new BitEnvoyError('BE_USAGE', `${what} ${path}: give an absolute path, e.g. C:\\ProgramData\\BitEnvoy\\agent`);
    // eslint-disable-next-line no-control-regex
    if (/["<>|?*\x00-\x1f]/.test(path)) throw new BitEnvoyError('BE_USAGE', `${what} ${JSON.stringify(path)}: a Windows path may not contain quotes, <, >, |, ?, * or control characters`);
    return path;
  }
  if (!posix.isAbsolute(path)) throw new BitEnvoyError('BE_USAGE', `${what} ${path}: give an absolute path, e.g. /srv/www`);
  // eslint-disable-next-line no-control-regex
  if (/[\s"'%\\\x00-\x1f\x7f]/.test(path)) {
    throw new BitEnvoyError('BE_USAGE', `${what} ${JSON.stringify(path)}: a service path may not contain spaces, quotes, \`%\`, \`\\\` or control characters; use a path without them (a symbolic link will do)`);
  }
  return path;
}

/**
 * Refuses a user name `useradd` and unit files would not take as it is.
 *
 * @example
 * checkUserName('bitenvoy-agent'); // 'bitenvoy-agent'
 */
export function checkUserName(user: string): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
    throw new BitEnvoyError('BE_USAGE', `--user ${JSON.stringify(user)}: a user name is 1 to 32 lower-case letters, digits, \`_\` or \`-\`, starting with a letter or \`_\`, e.g. bitenvoy-agent`);
  }
  return user;
}
