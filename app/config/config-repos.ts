/**
 * The config in force for each repository. With `BITENVOY_CONFIG_REPO` set, one config repo governs every
 * repository. In GitHub mode without it, every installation owner (organisation or user) has its own config repo,
 * `<owner>/.bitenvoy` by default, cloned with a short-lived installation token from the clone URL the API gives (so
 * GitHub Enterprise Server works), and refreshed on a timer and at once when its default branch is pushed.
 *
 * Hub replicas on one store fetch once fleet-wide ({@link ConfigRepos.share}): on the timer only the leader fetches,
 * and every refresh (the leader's, or a push webhook's on whichever replica got it) records the branch head it saw
 * in the store; the other replicas read that record on their timer and fetch only when it names a commit they have
 * not seen. Each replica still holds the config in its own memory. A record older than {@link STALE_AFTER_REFRESHES}
 * intervals (a leader that stopped fetching) makes each replica fetch for itself again.
 *
 * @example
 * const configs = ConfigRepos.single(new ConfigRepo({ source: '/srv/config.git', workDir, log }));
 * configs.current('acme/shop')?.repositories['acme/shop'];
 */
import { join } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { StatusOctokit } from '../github/status-reporter.js';
import { mintRepositoryToken } from '../github/repository-token.js';
import type { Store } from '../store/store.js';
import { ConfigRepo, type ConfigInForce, type ConfigRemote, type ConfigStatus } from './config-repo.js';

/** The store several hub replicas share, and whether this one leads (fetches on the timer) now. */
export interface SharedRefresh {
  store: Store;
  leading(): boolean;
}

/** The branch head a replica saw, as the store keeps it for the others. */
interface SeenHead {
  sha: string;
  at: string;
}

/** Past this many refresh intervals without a newer record, a replica fetches for itself. */
const STALE_AFTER_REFRESHES = 5;

/** What the GitHub-mode registry needs from the App: an app-authenticated and an installation Octokit. */
export interface GitHubAccess {
  app(): Promise<StatusOctokit>;
  installation(installationId: number): Promise<StatusOctokit>;
}

export interface GitHubConfigOptions {
  github: GitHubAccess;
  /** The config repository's name in each owner's account. Default `.bitenvoy`. */
  repoName: string;
  branch?: string;
  workDir: string;
  refreshSeconds: number;
  log: Logger;
}

interface Owner {
  login: string;
  installationId: number;
  repo: ConfigRepo;
  /** The clone URL and default branch change rarely: asked again every ten minutes, or after a failure. */
  info?: { url: string; defaultBranch: string; until: number };
  token?: { username: string; password: string; until: number };
}

const INFO_TTL_MS = 10 * 60_000;

export class ConfigRepos {
  #single: ConfigRepo | undefined;
  #github: GitHubConfigOptions | undefined;
  #owners = new Map<string, Owner>();
  #timer: NodeJS.Timeout | undefined;
  #shared: SharedRefresh | undefined;

  private constructor(single: ConfigRepo | undefined, github: GitHubConfigOptions | undefined) {
    this.#single = single;
    this.#github = github;
  }

  /** One config repo for every repository (`BITENVOY_CONFIG_REPO`), or none at all. */
  static single(repo: ConfigRepo | undefined): ConfigRepos {
    return new ConfigRepos(repo, undefined);
  }

  /** One config repo per GitHub installation owner. */
  static perOwner(options: GitHubConfigOptions): ConfigRepos {
    return new ConfigRepos(undefined, options);
  }

  get perOwnerMode(): boolean {
    return this.#github !== undefined;
  }

  /** The config repository's name in an owner's account, in GitHub mode. */
  get repoName(): string | undefined {
    return this.#github?.repoName;
  }

  current(repository: string): ConfigInForce | undefined {
    if (!this.#github) return this.#single?.current();
    return this.#owners.get(ownerOf(repository))?.repo.current();
  }

  /** Every config in force: the only one, or each installation owner's (those that loaded one). */
  inForce(): ConfigInForce[] {
    const repos = this.#github ? [...this.#owners.values()].map((o) => o.repo) : this.#single ? [this.#single] : [];
    return repos.flatMap((repo) => repo.current() ?? []);
  }

  /** The config repo that governs `owner/name`, if any. */
  repoFor(repository: string): ConfigRepo | undefined {
    return this.#github ? this.#owners.get(ownerOf(repository))?.repo : this.#single;
  }

  /**
   * The config repo a pushed repository *is*, if it is one: in GitHub mode the owner's repository named
   * `repoName`; with BITENVOY_CONFIG_REPO, the repository at that URL.
   */
  configRepoFor(repository: { fullName: string; urls: string[] }): ConfigRepo | undefined {
    if (this.#github) {
      const [owner, name] = repository.fullName.toLowerCase().split('/');
      return name === this.#github.repoName.toLowerCase() ? this.#owners.get(owner!)?.repo : undefined;
    }
    const source = this.#single?.source;
    return source && repository.urls.some((url) => sameRepositoryUrl(url, source)) ? this.#single : undefined;
  }

  statuses(): ConfigStatus[] {
    if (!this.#github) return this.#single ? [this.#single.status()] : [];
    return [...this.#owners.values()].map((o) => o.repo.status());
  }

  /** Fetches once fleet-wide from now on: see the file's comment. */
  share(shared: SharedRefresh): void {
    this.#shared = shared;
  }

  /** Refreshes (fetches) one owner's config repo (GitHub mode) or the only one, and records the head it saw. */
  async refresh(owner?: string): Promise<ConfigStatus[]> {
    return Promise.all(this.#targets(owner).map(({ key, repo }) => this.#fetch(key, repo)));
  }

  /**
   * What the timer runs: alone or leading, {@link refresh}; otherwise, for each config repo, a fetch only when the
   * store names a head this replica has not seen, or names none recent enough.
   */
  async sync(now = Date.now()): Promise<void> {
    const shared = this.#shared;
    if (!shared || shared.leading()) return void (await this.refresh());
    const staleMs = STALE_AFTER_REFRESHES * this.#refreshSeconds * 1000;
    await Promise.all(
      this.#targets().map(async ({ key, repo }) => {
        const seen = await shared.store.get<SeenHead>(headKey(key)).catch(() => undefined);
        const status = repo.status();
        const mine = status.rejected?.sha ?? status.sha;
        if (!seen || now - Date.parse(seen.at) > staleMs || seen.sha !== mine) await this.#fetch(key, repo);
      }),
    );
  }

  #targets(owner?: string): Array<{ key: string; repo: ConfigRepo }> {
    if (!this.#github) return this.#single ? [{ key: this.#single.status().source, repo: this.#single }] : [];
    const owners = owner === undefined ? [...this.#owners.values()] : [this.#owners.get(owner.toLowerCase())].filter((o) => o !== undefined);
    return owners.map((o) => ({ key: `owner:${o.login.toLowerCase()}`, repo: o.repo }));
  }

  async #fetch(key: string, repo: ConfigRepo): Promise<ConfigStatus> {
    const status = await repo.refresh();
    const head = status.lastError ? undefined : (status.rejected?.sha ?? status.sha);
    // Written on every fetch (one small write a refresh interval), so the others can tell a leader that stopped
    // fetching from a branch that stopped moving. A store that fails here costs the others one fetch of their own.
    if (this.#shared && head) await this.#shared.store.set<SeenHead>(headKey(key), { sha: head, at: new Date().toISOString() }).catch(() => undefined);
    return status;
  }

  get #refreshSeconds(): number {
    return this.#github?.refreshSeconds ?? this.#single?.refreshSeconds ?? 60;
  }

  /**
   * Starts following the config repo of an installation's owner (from a webhook or the installation list); the
   * first refresh runs before this resolves. Known owners only get their installation id updated.
   */
  async addInstallation(login: string, installationId: number): Promise<void> {
    const opts = this.#github;
    if (!opts) return;
    const key = login.toLowerCase();
    const known = this.#owners.get(key);
    if (known) {
      known.installationId = installationId;
      return;
    }
    const owner: Owner = {
      login,
      installationId,
      repo: new ConfigRepo({
        source: `${login}/${opts.repoName}`,
        owner: login,
        branch: opts.branch,
        workDir: join(opts.workDir, key),
        log: opts.log.child({ owner: login }),
        remote: () => this.#remote(owner),
      }),
    };
    this.#owners.set(key, owner);
    await this.#fetch(`owner:${key}`, owner.repo);
  }

  /** The App was uninstalled from an owner: its repositories no longer deploy. */
  removeInstallation(login: string): void {
    this.#owners.delete(login.toLowerCase());
  }

  /** In GitHub mode: follows every installation the App has, then refreshes on the timer. */
  async start(): Promise<void> {
    const opts = this.#github;
    if (opts) {
      try {
        for (const inst of await listInstallations(await opts.github.app())) await this.addInstallation(inst.login, inst.id);
      } catch (err) {
        opts.log.error({ err }, 'could not list the App installations; config repos follow as webhooks arrive');
      }
    }
    if (!opts && !this.#single) return;
    this.#timer = setInterval(() => void this.sync().catch(() => undefined), this.#refreshSeconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #remote(owner: Owner): Promise<ConfigRemote> {
    const opts = this.#github!;
    const now = Date.now();
    if (!owner.info || owner.info.until < now) {
      const octokit = await opts.github.installation(owner.installationId);
      try {
        const res = (await octokit.request('GET /repos/{owner}/{repo}', { owner: owner.login, repo: opts.repoName })) as { data: { clone_url: string; default_branch: string } };
        owner.info = { url: res.data.clone_url, defaultBranch: res.data.default_branch, until: now + INFO_TTL_MS };
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === 404 || status === 403) {
          throw new BitEnvoyError(
            'BE_CONFIG_UNAVAILABLE',
            `the config repo ${owner.login}/${opts.repoName} does not exist or the GitHub App cannot read it: create it (start from templates/config-repo) and install the App on it, or name another with BITENVOY_CONFIG_REPO_NAME`,
            { cause: err },
          );
        }
        throw err;
      }
    }
    if (!owner.token || owner.token.until < now) {
      const auth = await mintRepositoryToken(await opts.github.app(), { installationId: owner.installationId, repo: opts.repoName });
      // Installation tokens live an hour: use one for fifty minutes at most.
      owner.token = { username: auth.username, password: auth.password, until: Math.min(Date.parse(auth.expiresAt) - 10 * 60_000, now + 50 * 60_000) };
    }
    return { url: owner.info.url, defaultBranch: owner.info.defaultBranch, auth: { username: owner.token.username, password: owner.token.password } };
  }
}

/** `https://github.com/acme/.bitenvoy.git` and `https://github.com/acme/.bitenvoy` are the same repository. */
function sameRepositoryUrl(a: string, b: string): boolean {
  const norm = (u: string) => u.trim().replace(/\/+$/, '').replace(/\.git$/, '').toLowerCase();
  return norm(a) === norm(b);
}

function ownerOf(repository: string): string {
  return repository.split('/')[0]!.toLowerCase();
}

/** Every installation of the App (paged), as owner login and installation id. */
const headKey = (key: string) => `config-head:${key}`;

async function listInstallations(app: StatusOctokit): Promise<Array<{ login: string; id: number }>> {
  const all: Array<{ login: string; id: number }> = [];
  for (let page = 1; page <= 100; page++) {
    const res = (await app.request('GET /app/installations', { per_page: 100, page })) as { data: Array<{ id: number; account: { login: string } | null }> };
    for (const inst of res.data) if (inst.account) all.push({ login: inst.account.login, id: inst.id });
    if (res.data.length < 100) break;
  }
  return all;
}
