/**
 * Keeps a clone of the config repo and the config in force. A commit takes effect only when the whole checkout
 * validates; otherwise the last valid config stays in force and the status says which commit was rejected and why.
 * The SHA in force is recorded on disk, so a hub restart never loses the valid config even if the branch head is
 * broken by then.
 *
 * @example
 * const repo = new ConfigRepo({ source: 'https://git.example.com/acme/.bitenvoy.git', workDir, log });
 * await repo.refresh();
 * repo.current()?.groups.web;
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { basicAuthEnv, git as simpleGit, gitWithEnv } from '../../lib/git.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { withoutCredentials } from '../../lib/redact-url.js';
import { describeSourceProblem } from './describe-source-problem.js';
import { formatIssues, validateConfigDir, type ConfigIssue, type LoadedConfig } from '../../config-schema/validate-config-dir.js';
import type { ValidationResult } from '../../config-schema/validate-yaml-file.js';

export type ConfigInForce = LoadedConfig & { sha: string };

export interface ConfigStatus {
  source: string;
  /** In GitHub mode: the installation owner whose repositories this config governs. */
  owner?: string;
  branch?: string;
  /** The commit in force, if any valid one was ever loaded. */
  sha?: string;
  loadedAt?: string;
  lastCheckedAt?: string;
  /** The newest commit that did not validate, and why. */
  rejected?: { sha: string; errors: ConfigIssue[] };
  /** The last failure to read the repository at all. */
  lastError?: string;
}

/** Where to fetch from right now, with short-lived credentials (GitHub mode: an installation token). */
export interface ConfigRemote {
  url: string;
  auth?: { username: string; password: string };
  /** The repository's default branch, when the host says which it is. */
  defaultBranch?: string;
}

export interface ConfigRepoOptions {
  /** A git URL or path; in GitHub mode the repository's name for people (`acme/.bitenvoy`), with `remote` set. */
  source: string;
  /** Looked up before every fetch: the clone URL and a fresh token (GitHub mode). */
  remote?: () => Promise<ConfigRemote>;
  owner?: string;
  branch?: string;
  workDir: string;
  refreshSeconds?: number;
  log: Logger;
}

export class ConfigRepo {
  #options: ConfigRepoOptions;
  #source: string;
  #current: ConfigInForce | undefined;
  #status: ConfigStatus;
  #running: Promise<ConfigStatus> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #restored = false;

  constructor(options: ConfigRepoOptions) {
    this.#options = options;
    // A plain path is taken relative to where the hub was started.
    this.#source = /^[a-z][a-z0-9+.-]*:\/\//i.test(options.source) || isAbsolute(options.source) ? options.source : resolve(options.source);
    this.#status = { source: options.source, ...(options.owner ? { owner: options.owner } : {}), branch: options.branch };
  }

  current(): ConfigInForce | undefined {
    return this.#current;
  }

  /** What /healthz and the status page show: a token in the configured URL or in a git error never appears there. */
  status(): ConfigStatus {
    const status = structuredClone(this.#status);
    status.source = withoutCredentials(status.source);
    if (status.lastError) status.lastError = withoutCredentials(status.lastError);
    return status;
  }

  /** The configured source as given (with any credentials): for matching webhook URLs, never for display. */
  get source(): string {
    return this.#source;
  }

  /** Fetches and, if the branch moved, validates and maybe switches the config. Concurrent calls share one run. */
  refresh(): Promise<ConfigStatus> {
    this.#running ??= this.#refresh().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** How often it is to be refreshed (BITENVOY_CONFIG_REFRESH_SECONDS); config-repos.ts runs the timer. */
  get refreshSeconds(): number {
    return this.#options.refreshSeconds ?? 60;
  }

  start(): void {
    this.stop();
    this.#timer = setInterval(() => void this.refresh(), this.refreshSeconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get #clone(): string {
    return join(this.#options.workDir, 'clone');
  }

  get #stateFile(): string {
    return join(this.#options.workDir, 'in-force.json');
  }

  /**
   * Validates any commit of the repository (a branch under review) without changing what is in force: the
   * "BitEnvoy config" check on a pull request that edits the config.
   */
  async validateCommit(sha: string): Promise<ValidationResult<LoadedConfig>> {
    const status = await this.refresh();
    if (status.lastError) throw new BitEnvoyError('BE_CONFIG_UNAVAILABLE', status.lastError);
    const git = simpleGit(this.#clone);
    const present = () => git.raw(['cat-file', '-e', `${sha}^{commit}`]).then(() => true, () => false);
    // A refresh already under way when the push arrived may have fetched just before it: ask for the commit itself.
    if (!(await present())) await this.#remoteGit(['fetch', 'origin', sha], this.#clone, await this.#remote());
    const dir = await mkdtemp(join(this.#options.workDir, 'check-'));
    try {
      const tar = join(dir, '.commit.tar');
      await git.raw(['archive', '--format=tar', '-o', tar, sha]);
      await run('tar', ['-xf', tar, '-C', dir]);
      await rm(tar);
      return await validateConfigDir(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async #remote(): Promise<ConfigRemote> {
    return this.#options.remote ? this.#options.remote() : { url: this.#source };
  }

  /** A git command that talks to the remote, with its short-lived credentials (never in a URL or on a command line). */
  #remoteGit(args: string[], cwd: string, remote: ConfigRemote): Promise<string> {
    if (remote.auth) return gitWithEnv(args, cwd, basicAuthEnv(remote.auth.username, remote.auth.password));
    return simpleGit(cwd).raw(args);
  }

  async #refresh(): Promise<ConfigStatus> {
    const log = this.#options.log;
    this.#status.lastCheckedAt = new Date().toISOString();
    let head: string;
    let git: SimpleGit | undefined;
    try {
      const remote = await this.#remote();
      git = await this.#ensureClone(remote);
      head = await this.#fetchHead(git, remote);
      this.#status.lastError = undefined;
    } catch (err) {
      this.#status.lastError = withoutCredentials(err instanceof BitEnvoyError ? err.message : String((err as Error).message));
      log.error(`config repo: ${this.#status.lastError}`);
      // The remote is unreachable, but the clone may still hold the commit that was in force before a restart.
      if (!this.#restored && existsSync(join(this.#clone, '.git'))) await this.#restore(simpleGit(this.#clone)).catch(() => undefined);
      return this.status();
    }
    if (!this.#restored) {
      this.#restored = true;
      await this.#restore(git);
    }
    if (head === this.#current?.sha || head === this.#status.rejected?.sha) return this.status();
    const result = await this.#load(git, head);
    if (result.value) {
      await this.#adopt(result.value, head);
      this.#status.rejected = undefined;
    } else {
      this.#status.rejected = { sha: head, errors: result.errors };
      log.warn(
        { sha: head, inForce: this.#current?.sha },
        `config repo commit ${head.slice(0, 7)} is invalid and does not take effect (${this.#current ? `keeping ${this.#current.sha.slice(0, 7)}` : 'no valid config yet'}):\n${formatIssues(result.errors)}`,
      );
    }
    return this.status();
  }

  async #ensureClone(remote: ConfigRemote): Promise<SimpleGit> {
    await mkdir(this.#options.workDir, { recursive: true });
    if (!existsSync(join(this.#clone, '.git'))) {
      await rm(this.#clone, { recursive: true, force: true });
      try {
        await this.#remoteGit(['clone', '--no-checkout', remote.url, this.#clone], this.#options.workDir, remote);
      } catch (err) {
        await rm(this.#clone, { recursive: true, force: true });
        const problem = (await describeSourceProblem(this.#source)) ?? `cannot clone the config repo ${this.#options.source}: ${firstLine(err)}`;
        throw new BitEnvoyError('BE_CONFIG_UNAVAILABLE', `${problem}; ${this.#fix}`, { cause: err });
      }
    }
    const git = simpleGit(this.#clone);
    // BITENVOY_CONFIG_REPO may have changed since the clone was made: follow the setting, not the old clone.
    const origin = (await git.remote(['get-url', 'origin']))?.trim();
    if (origin !== remote.url) {
      this.#options.log.info({ from: withoutCredentials(origin ?? ''), to: withoutCredentials(remote.url) }, 'config repo: the source changed; fetching from the new one');
      await git.remote(['set-url', 'origin', remote.url]);
    }
    return git;
  }

  async #fetchHead(git: SimpleGit, remote: ConfigRemote): Promise<string> {
    try {
      await this.#remoteGit(['fetch', '--prune', 'origin'], this.#clone, remote);
      const branch = this.#options.branch ?? remote.defaultBranch ?? (await this.#defaultBranch(remote));
      this.#status.branch = branch;
      return (await git.revparse([`refs/remotes/origin/${branch}`])).trim();
    } catch (err) {
      const problem = await describeSourceProblem(this.#source);
      const branch = this.#options.branch ? ` (does the branch \`${this.#options.branch}\` exist? It is set by BITENVOY_CONFIG_BRANCH)` : '';
      const message = problem ? `${problem}; ${this.#fix}` : `cannot fetch the config repo ${this.#options.source}: ${firstLine(err)}${branch}`;
      throw new BitEnvoyError('BE_CONFIG_UNAVAILABLE', message, { cause: err });
    }
  }

  async #defaultBranch(remote: ConfigRemote): Promise<string> {
    const out = await this.#remoteGit(['ls-remote', '--symref', 'origin', 'HEAD'], this.#clone, remote);
    const match = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
    return match?.[1] ?? 'main';
  }

  get #fix(): string {
    return this.#options.remote ? 'check that the repository exists and the GitHub App is installed on it' : 'set BITENVOY_CONFIG_REPO to a git URL or path the hub can read';
  }

  async #load(git: SimpleGit, sha: string) {
    await git.raw(['checkout', '--force', '--detach', sha]);
    await git.raw(['clean', '-fdxq']);
    return validateConfigDir(this.#clone);
  }

  async #adopt(config: LoadedConfig, sha: string): Promise<void> {
    this.#current = { ...config, sha };
    this.#status.sha = sha;
    this.#status.loadedAt = new Date().toISOString();
    await writeFile(this.#stateFile, JSON.stringify({ sha, loadedAt: this.#status.loadedAt }) + '\n');
    this.#options.log.info({ sha }, `config repo: ${sha.slice(0, 7)} is in force`);
  }

  /** After a restart: put the recorded valid commit back in force before looking at the branch head. */
  async #restore(git: SimpleGit): Promise<void> {
    const recorded = await readFile(this.#stateFile, 'utf8').then((t) => JSON.parse(t) as { sha: string }, () => undefined);
    if (!recorded || this.#current) return;
    const result = await this.#load(git, recorded.sha).catch(() => undefined);
    if (result?.value) await this.#adopt(result.value, recorded.sha);
  }
}

function firstLine(err: unknown): string {
  return (String((err as Error).message ?? err).split('\n').find((l) => l.trim()) ?? 'unknown error').trim();
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(command, args, (err, _out, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve())));
}
