/**
 * A reply in a pull request, posted once. The GitHub outbox (github-outbox.ts) sends the replies to PR commands as
 * this kind, keyed by the plain route `POST /repos/{owner}/{repo}/issues/{issue_number}/comments`: when the reply is
 * queued it gets an id of its own and a hidden marker with it at the end of its body (`<!-- bitenvoy:effect <uuid> -->`,
 * invisible in the rendered comment). The row records that a POST went out before it is sent; a POST whose answer
 * never came (a timeout, a reset connection, a 5xx, a hub killed mid-request) is followed, at the next attempt, by a
 * look at the comments made since the reply was queued: one that carries the marker means GitHub took it, and it is
 * not posted again.
 *
 * @example
 * await outbox.enqueue(1, REPLY_ROUTE, { owner: 'acme', repo: 'shop', issue_number: 12, body: '@octocat deploying…' });
 * // GitHub receives body "@octocat deploying…\n\n<!-- bitenvoy:effect 0b6f…-->", once
 */
import { randomUUID } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import type { EffectKind, OutboxOctokit } from './github-outbox.js';
import { refusedByGitHub } from './judge-github-failure.js';

export const REPLY_ROUTE = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';

/** The reply's params as stored: the request's own, and what the outbox keeps to find it again. */
export interface ReplyParams {
  owner: string;
  repo: string;
  issue_number: number;
  /** Ends with the marker. */
  body: string;
  /** The id in the marker (none in a row queued by a release before markers). */
  effect?: string;
  /** When it was queued: the comments made since then are where it could be. */
  queuedAt?: string;
  /** A POST went out and its answer may be lost: look before posting again. */
  attempted?: boolean;
}

const PER_PAGE = 100;
/** Comments since the reply was queued are few; a pull request with more than this many is not searched further. */
const MAX_PAGES = 3;
/** GitHub's clock and the hub's may differ: look this much further back than when the reply was queued. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The hidden line that identifies one reply. */
export function replyMarker(effect: string): string {
  return `<!-- bitenvoy:effect ${effect} -->`;
}

export const replyKind: EffectKind = {
  prepare(params, now) {
    if (typeof params.effect === 'string') return params;
    const effect = randomUUID();
    return { ...params, body: `${String(params.body)}\n\n${replyMarker(effect)}`, effect, queuedAt: now.toISOString() };
  },
  async run(octokit, params, progress) {
    const reply = checkParams(params);
    const { owner, repo, issue_number, body } = reply;
    if (reply.attempted && (await alreadyPosted(octokit, reply))) return { alreadyPosted: true };
    if (!reply.attempted) await progress({ ...params, attempted: true });
    try {
      return await octokit.request(REPLY_ROUTE, { owner, repo, issue_number, body });
    } catch (err) {
      // GitHub said no: nothing to look for before the next attempt.
      if (refusedByGitHub(err)) await progress({ ...params, attempted: false });
      throw err;
    }
  },
  describe: (p) => `the reply in ${String(p.owner)}/${String(p.repo)}#${String(p.issue_number)}`,
  permission: 'Issues: write',
};

/** Whether a comment made since the reply was queued carries its marker (oldest first, a few pages at most). */
async function alreadyPosted(octokit: OutboxOctokit, reply: ReplyParams): Promise<boolean> {
  if (!reply.effect || !reply.queuedAt) return false;
  const marker = replyMarker(reply.effect);
  // GitHub documents `YYYY-MM-DDTHH:MM:SSZ`.
  const since = new Date(Date.parse(reply.queuedAt) - CLOCK_SKEW_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (let page = 1; page <= MAX_PAGES; page++) {
    const res = (await octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      owner: reply.owner,
      repo: reply.repo,
      issue_number: reply.issue_number,
      since,
      per_page: PER_PAGE,
      page,
    })) as { data?: unknown };
    const comments = Array.isArray(res.data) ? (res.data as Array<{ body?: unknown }>) : [];
    if (comments.some((c) => typeof c.body === 'string' && c.body.includes(marker))) return true;
    if (comments.length < PER_PAGE) return false;
  }
  // More than a few hundred comments since: posting again risks a duplicate, never a lost reply.
  return false;
}

/** A row may come from another release: the request's own fields must be there. */
function checkParams(params: Record<string, unknown>): ReplyParams {
  const ok =
    typeof params.owner === 'string' &&
    typeof params.repo === 'string' &&
    typeof params.issue_number === 'number' &&
    typeof params.body === 'string' &&
    (params.effect === undefined || typeof params.effect === 'string') &&
    (params.queuedAt === undefined || typeof params.queuedAt === 'string');
  if (!ok) throw new BitEnvoyError('BE_INTERNAL', 'a stored pull-request reply lacks owner, repo, a numeric issue_number or body; the command has to be given again');
  return params as unknown as ReplyParams;
}
