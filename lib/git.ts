import { simpleGit, type SimpleGit } from 'simple-git';

/**
 * simple-git for BitEnvoy: git never prompts for credentials (a prompt would hang a hub or an agent forever). The
 * setting goes into this process's environment, which git inherits, because simple-git refuses to pass a whole
 * environment through `.env()`.
 *
 * @example
 * await git(mirror).raw(['fetch', url, sha]);
 */
export function git(dir?: string): SimpleGit {
  process.env.GIT_TERMINAL_PROMPT = '0';
  return dir === undefined ? simpleGit() : simpleGit(dir);
}
