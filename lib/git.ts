import { execFile } from 'node:child_process';
import { simpleGit, type SimpleGit } from 'simple-git';

/**
 * Environment variables git may take from this process. simple-git strips every ambient `GIT_*` variable unless it
 * is listed — which would silently drop an operator's CA bundle or SSH command, and our own "never prompt".
 */
const GIT_ENVIRONMENT = [
  'GIT_TERMINAL_PROMPT',
  'GIT_ASKPASS',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
  'GIT_SSH_COMMAND',
  'GIT_SSH',
  'GIT_PROXY_COMMAND',
  'GIT_HTTP_LOW_SPEED_LIMIT',
  'GIT_HTTP_LOW_SPEED_TIME',
];

/**
 * simple-git for BitEnvoy: git never prompts for credentials (a prompt would hang a hub or an agent forever), and
 * the operator's git settings in the environment are honoured.
 *
 * @example
 * await git(mirror).raw(['fetch', url, sha]);
 * await git(dir, { signal: AbortSignal.timeout(3000) }).raw(['log', '-1']);
 */
export function git(dir?: string, options: { signal?: AbortSignal } = {}): SimpleGit {
  process.env.GIT_TERMINAL_PROMPT = '0';
  // `signal`: git is stopped when it aborts (a lookup with a deadline must not leave git running).
  return simpleGit({ ...(dir === undefined ? {} : { baseDir: dir }), ...(options.signal ? { abort: options.signal } : {}), allowEnvironment: GIT_ENVIRONMENT });
}

/**
 * Runs one git command with extra environment (simple-git refuses an explicit environment that carries the usual
 * ambient variables). Rejects with git's own error output.
 */
export function gitWithEnv(args: string[], cwd: string, extraEnv: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...extraEnv }, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr.trim() || err.message, { cause: err }));
      else resolve(stdout);
    });
  });
}

/**
 * Environment that makes git send HTTP Basic credentials as a header for one command, so a token appears neither on
 * a command line nor in a URL (where error messages and logs would show it).
 */
export function basicAuthEnv(username: string, password: string): Record<string, string> {
  return {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
  };
}
