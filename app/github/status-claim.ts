/**
 * One sender at a time per deployment's GitHub statuses, across hub replicas sharing a PostgreSQL store. Every replica
 * reports the changes its own engine makes (the agent reports it received, the leader's timers), so without this two
 * replicas post the same deployment's statuses side by side: the final status twice (one replica finishes the
 * rollout while another, just restarted, resumes it as still owed), or a progress status a replica was holding for
 * its interval after another one's final.
 *
 * A row `github-status-claim:<deployment id>` = `{ holder, until }`, taken by an atomic read-modify-write (a row lock on
 * PostgreSQL) before a status is read from the store and posted, and deleted once the store says what GitHub took.
 * A claim still there when taken again means its holder died or its request got no answer: GitHub may hold a status
 * that nobody recorded, so the new holder reads GitHub's newest first (`unsure`). A claim is short and renewed while its
 * holder works (a slow GitHub keeps it), so a replica killed holding one delays the deployment's statuses by seconds.
 *
 * @example
 * const claims = new StatusClaims(store, log);
 * const held = await claims.hold(dep.id, async (unsure) => { …read the store, post…; return outcomeUnknown; });
 * if (!held.ran) later(held.retryInMs);
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../../lib/logger.js';
import type { Store } from '../store/store.js';

interface ClaimRow {
  holder: string;
  /** ISO time the claim runs out. */
  until: string;
}

export type ClaimOutcome = { taken: true; unsure: boolean } | { taken: false; retryInMs: number };

const claimKey = (deploymentId: string) => `github-status-claim:${deploymentId}`;

/** How long a claim lasts unless renewed (every third of it while its holder sends). */
export const STATUS_CLAIM_MS = 6000;

export class StatusClaims {
  #store: Store;
  #claimMs: number;
  #log: Logger;
  #holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

  constructor(store: Store, log: Logger, claimMs = STATUS_CLAIM_MS) {
    this.#store = store;
    this.#claimMs = claimMs;
    this.#log = log;
  }

  /**
   * Runs `send` holding the deployment's claim, or says how long another sender may still hold it. `send` gets whether
   * GitHub may hold a status nobody recorded, and returns whether that is still so when it is done (no answer).
   */
  async hold(deploymentId: string, send: (unsure: boolean) => Promise<boolean>): Promise<{ ran: true } | { ran: false; retryInMs: number }> {
    const claim = await this.take(deploymentId);
    if (!claim.taken) return { ran: false, retryInMs: claim.retryInMs };
    let unsure = true;
    const renew = setInterval(() => void this.#renew(deploymentId).catch(() => undefined), this.#claimMs / 3);
    renew.unref();
    try {
      unsure = await send(claim.unsure);
    } finally {
      clearInterval(renew);
      await this.release(deploymentId, { unsure }).catch((err: unknown) => {
        this.#log.warn({ err, deploymentId }, "could not release this replica's claim on a deployment's GitHub statuses; it runs out by itself");
      });
    }
    return { ran: true };
  }

  /** Takes the deployment's claim unless another sender holds it now. */
  async take(deploymentId: string): Promise<ClaimOutcome> {
    let outcome: ClaimOutcome = { taken: false, retryInMs: 0 };
    await this.#store.update<ClaimRow>(claimKey(deploymentId), (current) => {
      const now = Date.now();
      const left = current && current.holder !== this.#holder ? Date.parse(current.until) - now : 0;
      if (left > 0) {
        outcome = { taken: false, retryInMs: left };
        return undefined;
      }
      // Left behind (not released): by a holder that died, or after a request whose outcome is unknown.
      outcome = { taken: true, unsure: current !== undefined };
      return { holder: this.#holder, until: new Date(now + this.#claimMs).toISOString() };
    });
    return outcome;
  }

  async #renew(deploymentId: string): Promise<void> {
    const until = new Date(Date.now() + this.#claimMs).toISOString();
    await this.#store.update<ClaimRow>(claimKey(deploymentId), (c) => (c?.holder === this.#holder ? { ...c, until } : undefined));
  }

  /**
   * Gives the claim back. `unsure`: the request got no answer, GitHub may have taken it — the claim stays (run out),
   * so whoever takes it next reads GitHub before posting.
   */
  async release(deploymentId: string, options: { unsure: boolean }): Promise<void> {
    const key = claimKey(deploymentId);
    if (!options.unsure) {
      await this.#store.deleteIf<ClaimRow>(key, (c) => c.holder === this.#holder);
      return;
    }
    await this.#store.update<ClaimRow>(key, (c) => (c?.holder === this.#holder ? { holder: `${this.#holder}:unanswered`, until: new Date().toISOString() } : undefined));
  }
}
