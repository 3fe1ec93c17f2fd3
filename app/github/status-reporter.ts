/**
 * Sends GitHub Deployment statuses for rollouts, coalesced and durably.
 *
 * Coalesced: a deployment gets at most one request in flight, nothing when nothing visible changed, progress no more
 * often than `minIntervalMs`, and its final state at once; so the requests per deployment do not grow with the
 * number of servers. Content-creating requests wait for a token of their installation (80 a minute, see
 * post-rate-limit.ts).
 *
 * Durable: the deployment record is the outbox. Once GitHub has taken a deployment's final status, the record gets
 * `githubReported`; a record whose final state lacks it is still owed to GitHub. A failed request is retried with
 * backoff (see judge-github-failure.ts), and at start {@link GitHubStatusReporter.start} resumes every deployment
 * still owed. Exactly once: when GitHub may already hold the final status — after a restart, or after an attempt
 * that got no answer, a reset connection or a 5xx — its newest status is read first, and a match is only recorded.
 * The crash windows: killed before the POST → the next start sends it; after GitHub took it but before the record
 * was written → the next start finds it on GitHub and records it.
 *
 * Hub replicas on one PostgreSQL store each report the changes their own engine makes, and each resumes what is owed
 * when it starts: a deployment's statuses are sent by one replica at a time (status-claim.ts), and a status is never
 * older than the store — a replica that still holds a progress status for its interval sends the final state instead
 * once the store has one (or nothing, when GitHub already shows it).
 *
 * @example
 * const reporter = new GitHubStatusReporter({ octokitFor, log, publicUrl, store, openDeployments: () => listUnreportedGitHubDeployments(store) });
 * engine = new RolloutEngine({ …, onChange: (d) => reporter.changed(d) });
 * await reporter.start();
 */
import type { Logger } from '../../lib/logger.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import { keys, type DeploymentRecord } from '../model.js';
import type { Store } from '../store/store.js';
import { deploymentStatusFor, readNewestDeploymentStatus, type DeploymentStatusBody } from './deployment-status.js';
import { judgeGitHubFailure, withDeadline, type Backoff } from './judge-github-failure.js';
import { PostRateLimit } from './post-rate-limit.js';
import { StatusClaims } from './status-claim.js';

/** The part of an Octokit the reporter uses. */
export interface StatusOctokit {
  request(route: string, params: Record<string, unknown>): Promise<unknown>;
}

export interface StatusReporterOptions {
  octokitFor: (installationId: number) => Promise<StatusOctokit>;
  log: Logger;
  publicUrl: string | (() => string);
  /** Progress statuses of one deployment no more often than this (default 10 s). */
  minIntervalMs?: number;
  /** Where `githubReported` is recorded; without it (some unit tests) nothing survives a restart. */
  store?: Store;
  /** The deployments GitHub may still be owed a status for, read by {@link GitHubStatusReporter.start}. */
  openDeployments?: () => Promise<DeploymentRecord[]>;
  /** Backoff after a failed request (default: from 1 s, doubling, at most 5 min). */
  retry?: Partial<Backoff>;
  /** A request without an answer after this long counts as failed, outcome unknown (default 30 s). */
  requestTimeoutMs?: number;
  /** Content-creating requests per installation (default 80 per 60 s). */
  postLimit?: { limit?: number; windowMs?: number };
  /** The installations' budget of content-creating requests, shared with the GitHub outbox; replaces `postLimit`. */
  posts?: PostRateLimit;
}

interface Track {
  latest: DeploymentRecord;
  /** The body GitHub has (JSON), as far as this process knows. */
  sent?: string;
  sentAt: number;
  /** A body GitHub refused for good: not sent again unless the deployment changes. */
  refused?: string;
  /** Failed attempts in a row, and no attempt before `notBefore` (backoff, Retry-After, rate-limit reset). */
  failures: number;
  notBefore: number;
  /** GitHub may hold a status this process does not know of: read its newest before posting a final one. */
  unsure: boolean;
  /** The final status goes out late (after a failure or a restart). */
  late: boolean;
  inFlight?: Promise<void>;
  timer?: NodeJS.Timeout;
}

const isFinal = (dep: DeploymentRecord) => FINAL_DEPLOYMENT_STATES.includes(dep.state);

export class GitHubStatusReporter {
  #octokitFor: StatusReporterOptions['octokitFor'];
  #log: Logger;
  #publicUrl: () => string;
  #minIntervalMs: number;
  #store: Store | undefined;
  #openDeployments: StatusReporterOptions['openDeployments'];
  #backoff: Backoff;
  #requestTimeoutMs: number;
  #posts: PostRateLimit;
  /** Replicas on PostgreSQL: one sender per deployment at a time. Alone on SQLite, this process is the only one. */
  #claims: StatusClaims | undefined;
  #tracks = new Map<string, Track>();
  #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(options: StatusReporterOptions) {
    this.#octokitFor = options.octokitFor;
    this.#log = options.log;
    const url = options.publicUrl;
    this.#publicUrl = typeof url === 'string' ? () => url : url;
    this.#minIntervalMs = options.minIntervalMs ?? 10_000;
    this.#store = options.store;
    this.#openDeployments = options.openDeployments;
    this.#backoff = { baseMs: 1000, maxMs: 300_000, ...options.retry };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#posts = options.posts ?? new PostRateLimit({ ...options.postLimit, sleep: (ms) => this.#sleep(ms) });
    if (this.#store?.db.dialect === 'postgres') this.#claims = new StatusClaims(this.#store, this.#log);
  }

  /**
   * Resumes after a restart: every deployment still owed a status (`openDeployments`) gets its current one, final
   * states checked against GitHub first; those still running go on being reported. Resolves once they are listed.
   */
  async start(): Promise<void> {
    const owed = (await this.#openDeployments?.()) ?? [];
    let resumed = 0;
    for (const dep of owed) {
      // What `changed` was told since the hub started is newer than the listing.
      if (!dep.github || this.#closed || this.#tracks.has(dep.id) || (isFinal(dep) && dep.githubReported?.state === dep.state)) continue;
      const track: Track = { latest: dep, sentAt: 0, failures: 0, notBefore: 0, unsure: true, late: true };
      this.#tracks.set(dep.id, track);
      this.#schedule(track);
      resumed += 1;
    }
    if (resumed) this.#log.info(`resuming GitHub statuses of ${resumed} deployment(s) the last run did not finish reporting`);
  }

  /** Records the newest state of a deployment; a status follows when GitHub should see it. */
  changed(dep: DeploymentRecord): void {
    if (!dep.github || this.#closed) return;
    const track = this.#tracks.get(dep.id);
    if (!track) {
      // Reported before (by a previous run, or before this track ended): GitHub's newest status says if this is news.
      const reported = isFinal(dep) && dep.githubReported?.state === dep.state;
      const fresh: Track = { latest: dep, sentAt: 0, failures: 0, notBefore: 0, unsure: reported, late: reported };
      this.#tracks.set(dep.id, fresh);
      this.#schedule(fresh);
      return;
    }
    // A rollout never leaves its final state: an older record arriving late changes nothing.
    if (isFinal(track.latest) && !isFinal(dep)) return;
    track.latest = dep;
    this.#schedule(track);
  }

  /** Resolves when every deployment's latest state has been sent or refused for good (tests and shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.#tracks.values()].filter((t) => t.inFlight || t.timer || this.#pending(t));
      if (!busy.length || this.#closed) return;
      await Promise.all(busy.map((t) => t.inFlight ?? new Promise((r) => setTimeout(r, 20))));
    }
  }

  /** Stops every timer; nothing more is sent. What is still owed is sent by the next start. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const track of this.#tracks.values()) if (track.timer) clearTimeout(track.timer);
    this.#tracks.clear();
  }

  #text(dep: DeploymentRecord): string {
    return JSON.stringify(deploymentStatusFor(dep, this.#publicUrl()));
  }

  #pending(track: Track): boolean {
    const text = this.#text(track.latest);
    return text !== track.sent && text !== track.refused;
  }

  #schedule(track: Track): void {
    if (this.#closed || track.inFlight) return;
    if (track.timer) clearTimeout(track.timer);
    track.timer = undefined;
    if (!this.#pending(track)) {
      if (isFinal(track.latest)) this.#tracks.delete(track.latest.id);
      return;
    }
    const now = Date.now();
    // The final state never waits behind the progress interval; it does wait out a backoff GitHub asked for.
    const interval = isFinal(track.latest) || track.sentAt === 0 ? 0 : track.sentAt + this.#minIntervalMs - now;
    const wait = Math.max(0, interval, track.notBefore - now);
    if (wait > 0) {
      track.timer = setTimeout(() => {
        track.timer = undefined;
        this.#schedule(track);
      }, wait);
      track.timer.unref();
      return;
    }
    track.inFlight = this.#attempt(track).finally(() => {
      track.inFlight = undefined;
      this.#schedule(track);
    });
  }

  async #attempt(track: Track): Promise<void> {
    const link = track.latest.github!;
    const token = await this.#posts.take(link.installationId);
    // A shared limiter goes on after this reporter closed: the unused token is for its other users.
    if (this.#closed) return token.giveBack();
    if (!this.#claims) return this.#send(track, token);
    const send = async (unsure: boolean) => {
      if (unsure) track.unsure = true;
      await this.#send(track, token);
      return track.unsure;
    };
    const held = await this.#claims.hold(track.latest.id, send).catch((err: unknown) => {
      token.giveBack();
      this.#failed(track, track.latest, deploymentStatusFor(track.latest, this.#publicUrl()), err);
    });
    if (held && !held.ran) {
      // Another replica is sending this deployment's status: look again soon (it lets go within ms, unless it died).
      token.giveBack();
      track.notBefore = Date.now() + Math.min(held.retryInMs, 500);
    }
  }

  /** Sends the track's status (or records that GitHub has it) with the rate-limit token taken for it. */
  async #send(track: Track, token: { done(): void; giveBack(): void }): Promise<void> {
    const link = track.latest.github!;
    // The store's final state wins over what this process last heard: another replica may have ended the rollout.
    const stored = this.#claims ? await this.#store!.get<DeploymentRecord>(keys.deployment(track.latest.id)) : undefined;
    if (stored && isFinal(stored)) {
      if (!isFinal(track.latest)) track.latest = stored;
      // Another replica sent it: GitHub's newest status is read, and matches, instead of a second post.
      if (stored.githubReported?.state === stored.state) track.unsure = true;
    }
    // The newest state once this request's turn came: a final state that arrived meanwhile goes out now.
    const dep = track.latest;
    const body = deploymentStatusFor(dep, this.#publicUrl());
    let posted = false;
    try {
      const octokit = await this.#octokitFor(link.installationId);
      if (isFinal(dep) && track.unsure) {
        const newest = await withDeadline(readNewestDeploymentStatus(octokit, link), this.#requestTimeoutMs);
        // `inactive` comes after a success, set by GitHub once a newer deployment succeeded: nothing to add.
        if (newest && (newest.state === 'inactive' || (newest.state === body.state && newest.description === body.description))) {
          token.giveBack();
          await this.#accepted(track, dep, body);
          return;
        }
      }
      // A late success must not mark newer deployments of the environment inactive (GitHub's default does): at
      // worst an older one stays shown as active.
      const late = track.late && body.state === 'success' ? { auto_inactive: false } : {};
      posted = true;
      await withDeadline(
        octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', { owner: link.owner, repo: link.repo, deployment_id: link.deploymentId, ...body, ...late }),
        this.#requestTimeoutMs,
      );
      token.done();
      await this.#accepted(track, dep, body);
    } catch (err) {
      if (posted) token.done();
      else token.giveBack();
      this.#failed(track, dep, body, err);
    }
  }

  /** GitHub has this status: remember it, and record a final one on the deployment. */
  async #accepted(track: Track, dep: DeploymentRecord, body: DeploymentStatusBody): Promise<void> {
    Object.assign(track, { sent: JSON.stringify(body), sentAt: Date.now(), refused: undefined, failures: 0, notBefore: 0, unsure: false });
    if (!isFinal(dep) || !this.#store) return;
    const githubReported = { state: dep.state, at: new Date().toISOString() };
    try {
      // Only this field: the engine owns the rest of the record.
      await this.#store.update<DeploymentRecord>(keys.deployment(dep.id), (d) => (d && d.state === dep.state && d.githubReported?.state !== dep.state ? { ...d, githubReported } : undefined));
    } catch (err) {
      // Shutting down closes the store under a request that was still out: the next start checks GitHub anyway.
      if (this.#closed) return;
      // Unrecorded, so another replica taking the claim next reads GitHub first too.
      track.unsure = true;
      this.#log.warn({ err, deploymentId: dep.id }, `GitHub has the "${body.state}" status of ${dep.id} but the store could not record it; the next start reads it from GitHub instead of sending it again`);
    }
  }

  #failed(track: Track, dep: DeploymentRecord, body: DeploymentStatusBody, err: unknown): void {
    if (this.#closed) return;
    const link = dep.github!;
    const where = `deployment ${link.deploymentId} of ${link.owner}/${link.repo} (${dep.id})`;
    const verdict = judgeGitHubFailure(err, track.failures + 1, this.#backoff);
    const fields = { err, deploymentId: dep.id, githubDeployment: link.deploymentId };
    if (!verdict.retry) {
      Object.assign(track, { refused: JSON.stringify(body), sentAt: Date.now(), failures: 0, notBefore: 0 });
      this.#log.error(fields, `GitHub refused the "${body.state}" status of ${where}: ${verdict.reason}. It is not sent again: ${verdict.remedy}`);
      return;
    }
    track.failures += 1;
    track.notBefore = Date.now() + verdict.delayMs;
    if (verdict.outcomeUnknown) track.unsure = true;
    if (isFinal(dep)) track.late = true;
    this.#log.warn(fields, `could not report "${body.state}" to GitHub for ${where}: ${verdict.reason}; retrying in ${(verdict.delayMs / 1000).toFixed(1)} s (attempt ${track.failures + 1})`);
  }


  /** Waits for the rate limit; once closed it never resolves, so nothing more is sent. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#closed) return;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.#timers.add(timer);
    });
  }
}
