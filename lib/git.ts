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
 */
export function git(dir?: string): SimpleGit {
  process.env.GIT_TERMINAL_PROMPT = '0';
  return simpleGit({ ...(dir === undefined ? {} : { baseDir: dir }), allowEnvironment: GIT_ENVIRONMENT });
}
