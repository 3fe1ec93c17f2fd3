/**
 * Sends GitHub Deployment statuses for rollouts, coalesced: GitHub allows about 80 content-creating requests a
 * minute per installation, so a deployment gets at most one request in flight, nothing when nothing visible
 * changed, progress no more often than `minIntervalMs`, and its final state at once. The number of requests per
 * deployment therefore does not grow with the number of servers.
 *
 * @example
 * const reporter = new GitHubStatusReporter({ octokitFor, log, publicUrl });
 * engine = new RolloutEngine({ …, onChange: (d) => reporter.changed(d) });
 */
import type { Logger } from '../../lib/logger.js';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import type { DeploymentRecord } from '../model.js';
import { deploymentStatusFor, type DeploymentStatusBody } from './deployment-status.js';

/** The part of an Octokit the reporter uses. */
export interface StatusOctokit {
  request(route: string, params: Record<string, unknown>): Promise<unknown>;
}

interface Track {
  latest: DeploymentRecord;
  sent?: string;
  sentAt: number;
  inFlight?: Promise<void>;
  timer?: NodeJS.Timeout;
}

export class GitHubStatusReporter {
  #octokitFor: (installationId: number) => Promise<StatusOctokit>;
  #log: Logger;
  #publicUrl: () => string;
  #minIntervalMs: number;
  #tracks = new Map<string, Track>();

  constructor(options: { octokitFor: (installationId: number) => Promise<StatusOctokit>; log: Logger; publicUrl: string | (() => string); minIntervalMs?: number }) {
    this.#octokitFor = options.octokitFor;
    this.#log = options.log;
    const url = options.publicUrl;
    this.#publicUrl = typeof url === 'string' ? () => url : url;
    this.#minIntervalMs = options.minIntervalMs ?? 10_000;
  }

  /** Records the newest state of a deployment; a status follows when GitHub should see it. */
  changed(dep: DeploymentRecord): void {
    if (!dep.github) return;
    const track = this.#tracks.get(dep.id) ?? { latest: dep, sentAt: 0 };
    track.latest = dep;
    this.#tracks.set(dep.id, track);
    this.#schedule(track);
  }

  /** Resolves when every deployment's latest state has been sent (tests and shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.#tracks.values()].filter((t) => t.inFlight || t.timer || this.#pending(t));
      if (!busy.length) return;
      await Promise.all(busy.map((t) => t.inFlight ?? new Promise((r) => setTimeout(r, 20))));
    }
  }

  #pending(track: Track): boolean {
    return JSON.stringify(deploymentStatusFor(track.latest, this.#publicUrl())) !== track.sent;
  }

  #schedule(track: Track): void {
    const final = FINAL_DEPLOYMENT_STATES.includes(track.latest.state);
    // The final state never waits behind a progress timer: it goes out as soon as nothing is in flight.
    if (final && track.timer) {
      clearTimeout(track.timer);
      track.timer = undefined;
    }
    if (track.inFlight || track.timer || !this.#pending(track)) return;
    const wait = final || track.sentAt === 0 ? 0 : Math.max(0, track.sentAt + this.#minIntervalMs - Date.now());
    if (wait > 0) {
      track.timer = setTimeout(() => {
        track.timer = undefined;
        this.#schedule(track);
      }, wait);
      track.timer.unref();
      return;
    }
    track.inFlight = this.#send(track).finally(() => {
      track.inFlight = undefined;
      if (FINAL_DEPLOYMENT_STATES.includes(track.latest.state) && !this.#pending(track)) this.#tracks.delete(track.latest.id);
      else this.#schedule(track);
    });
  }

  async #send(track: Track): Promise<void> {
    const dep = track.latest;
    const link = dep.github!;
    const body: DeploymentStatusBody = deploymentStatusFor(dep, this.#publicUrl());
    const text = JSON.stringify(body);
    try {
      const octokit = await this.#octokitFor(link.installationId);
      await octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
        owner: link.owner,
        repo: link.repo,
        deployment_id: link.deploymentId,
        ...body,
      });
      track.sent = text;
      track.sentAt = Date.now();
    } catch (err) {
      // Remember it as sent anyway: a status GitHub refuses is not retried in a loop; the next change tries again.
      track.sent = text;
      track.sentAt = Date.now();
      this.#log.error({ err, deploymentId: dep.id, githubDeployment: link.deploymentId }, `could not report "${body.state}" to GitHub for ${link.owner}/${link.repo}`);
    }
  }
}
