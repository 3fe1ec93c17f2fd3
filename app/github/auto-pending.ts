/**
 * The candidates of automatic deploys as the store keeps them, shared by hub replicas: a commit waiting for its
 * checks (`auto-pending:<repo>:<sha>`), an environment a guard rail held back (`auto-held:<repo>:<env>`), and the last
 * commit deployed to an environment (`auto-deployed:<repo>:<env>`).
 *
 * Each candidate carries the time its next evaluation is due (`dueAt`), so that whichever replica is alive evaluates
 * it: the replica that got the webhook does so on its own timer, the leader's sweep picks up what a dead replica left.
 * A pending commit is evaluated under a claim (`claim: { by, until }`, taken by an atomic read-modify-write), so two
 * replicas never evaluate it at once; a dead claimant's claim runs out. And an environment is marked deployed by a
 * compare-and-set before the GitHub Deployment is asked for, so two evaluators can never both create one.
 *
 * The sweep lists the `auto-pending:` and `auto-held:` keys and keeps those due (the kv table's key index cannot
 * filter on `dueAt`). Both are few by nature: a pending commit is deleted once decided or its `checksTimeout` passes
 * (so they are bounded by the commits pushed within a timeout to branches `auto` environments follow), and there is at
 * most one held entry per repository and environment. Neither grows with history or with the fleet.
 *
 * @example
 * const claimed = await claimEvaluation(store, key, { by: 'hub-a', now: Date.now(), claimMs: 120_000 });
 * if (claimed.state === 'claimed') await finishEvaluation(store, key, 'hub-a', { claimedDue: claimed.pending.dueAt, left: {}, settled: ['production'], nextDueAt: undefined });
 */
import type { Store } from '../store/store.js';

/** A repository as webhooks describe it. */
export interface RepositoryRef {
  fullName: string;
  owner: string;
  name: string;
  cloneUrl: string;
}

/** Who evaluates a pending commit now, and until when that claim holds unless renewed (ISO). */
export interface EvaluationClaim {
  by: string;
  until: string;
}

/** A commit waiting for its checks: the environments it may go to, each with the time its checks must report by. */
export interface PendingCommit {
  repository: RepositoryRef;
  installationId: number;
  sha: string;
  firstSeenAt: string;
  envs: Record<string, { branch: string; deadline: string }>;
  /** When it is to be evaluated next (ISO): the debounce after its last event, or its first deadline. Absent: now. */
  dueAt?: string;
  claim?: EvaluationClaim;
}

/** What a lock held back: enough to look at the branch again when it is released or runs out. */
export interface HeldAutoDeploy {
  repository: RepositoryRef;
  installationId: number;
  environment: string;
  branch: string;
  sha: string;
  /** When to look at the branch again (ISO): the lock's end, or now after a promotion. Absent: when an event says. */
  dueAt?: string;
}

export const pendingKey = (repository: string, sha: string) => `auto-pending:${repository}:${sha}`;
/** The last commit auto-deployed to an environment: a second event for it does nothing. */
export const deployedKey = (repository: string, environment: string) => `auto-deployed:${repository}:${environment}`;
/** An environment whose auto-deploy a lock held back: once the lock is gone, its branch head is evaluated again. */
export const heldKey = (repository: string, environment: string) => `auto-held:${repository}:${environment}`;

export type ClaimOutcome =
  | { state: 'claimed'; pending: PendingCommit }
  /** Decided meanwhile (by another replica): nothing to do. */
  | { state: 'gone' }
  /** Another replica evaluates it until `until` (epoch ms). */
  | { state: 'busy'; until: number }
  /** Not due before `at` (epoch ms): a later event moved its debounce on. */
  | { state: 'not-due'; at: number };

/**
 * Takes the evaluation of a pending commit, unless it is not due yet (`force` skips that: a hub starting after an
 * outage looks at every commit again) or another live claim holds it. `alone` (a hub alone on its SQLite file): a
 * claim of someone else is a stopped run's, and is taken over.
 */
export async function claimEvaluation(store: Store, key: string, o: { by: string; now: number; claimMs: number; force?: boolean; alone?: boolean }): Promise<ClaimOutcome> {
  let outcome: ClaimOutcome = { state: 'gone' };
  await store.update<PendingCommit>(key, (current) => {
    if (!current) return ((outcome = { state: 'gone' }), undefined);
    const held = current.claim && current.claim.by !== o.by && !o.alone ? Date.parse(current.claim.until) : 0;
    if (held > o.now) return ((outcome = { state: 'busy', until: held }), undefined);
    const due = dueTime(current);
    if (!o.force && due > o.now) return ((outcome = { state: 'not-due', at: due }), undefined);
    const pending = { ...current, claim: { by: o.by, until: new Date(o.now + o.claimMs).toISOString() } };
    outcome = { state: 'claimed', pending };
    return pending;
  });
  return outcome;
}

/**
 * Ends an evaluation: keeps the environments still waiting (`left`) with the next due time, and lets the claim go; the
 * commit is deleted when nothing waits. An event that came during the evaluation (its `dueAt` moved) may carry news
 * the evaluation did not see — a failed check re-run to success — so then only the environments decided for good
 * (`settled`: deployed, held, no longer automatic) are dropped, and it is due again at that event's debounce.
 * Returns when it is due next (epoch ms), or undefined when it is gone.
 */
export async function finishEvaluation(
  store: Store,
  key: string,
  by: string,
  o: { claimedDue: string | undefined; left: PendingCommit['envs']; settled: string[]; nextDueAt: number | undefined },
): Promise<number | undefined> {
  let empty = false;
  let next: number | undefined;
  await store.update<PendingCommit>(key, (current) => {
    if (!current) return undefined;
    const eventCame = current.dueAt !== o.claimedDue;
    const envs = Object.fromEntries(Object.entries(current.envs).filter(([name]) => (eventCame ? !o.settled.includes(name) : name in o.left)));
    const dueAt = eventCame ? Math.min(dueTime(current), o.nextDueAt ?? Infinity) : (o.nextDueAt ?? Infinity);
    empty = !Object.keys(envs).length;
    next = Number.isFinite(dueAt) ? dueAt : undefined;
    const { claim, ...rest } = current;
    const mine = claim?.by === by;
    return { ...rest, ...(mine || !claim ? {} : { claim }), envs, ...(Number.isFinite(dueAt) ? { dueAt: new Date(dueAt).toISOString() } : {}) };
  });
  // Deleted only while still empty and unclaimed: an event or another evaluation since then keeps it.
  if (empty && (await store.deleteIf<PendingCommit>(key, (current) => !Object.keys(current.envs).length && !current.claim))) return undefined;
  return next;
}

/**
 * An evaluation failed: the claim goes, and the commit is due again at `retryAt` — or sooner, at the debounce of an
 * event that came meanwhile.
 */
export async function releaseEvaluation(store: Store, key: string, by: string, o: { claimedDue: string | undefined; retryAt: number }): Promise<void> {
  await store.update<PendingCommit>(key, (current) => {
    if (!current) return undefined;
    const { claim, ...rest } = current;
    const dueAt = current.dueAt !== o.claimedDue ? Math.min(dueTime(current), o.retryAt) : o.retryAt;
    return { ...rest, ...(claim && claim.by !== by ? { claim } : {}), dueAt: new Date(dueAt).toISOString() };
  });
}

/**
 * A new event for a commit: it is due again `debounceMs` from now (its deadlines stay). Returns false when the store
 * holds no such candidate.
 */
export async function postponeEvaluation(store: Store, key: string, dueAt: number): Promise<boolean> {
  const after = await store.update<PendingCommit>(key, (current) => current && { ...current, dueAt: new Date(dueAt).toISOString() });
  return after !== undefined;
}

/** The pending commits due by `before` (epoch ms) and claimed by nobody alive at `now` (see the file's comment on bounds). */
export async function listDuePending(store: Store, now: number, before: number): Promise<string[]> {
  const all = await store.list<PendingCommit>('auto-pending:');
  return all.filter(({ value }) => dueTime(value) <= before && !(value.claim && Date.parse(value.claim.until) > now)).map(({ key }) => key);
}

/** The held environments due by `before` (epoch ms): their lock ran out, or a promotion came. */
export async function listDueHeld(store: Store, before: number): Promise<string[]> {
  const all = await store.list<HeldAutoDeploy>('auto-held:');
  return all.filter(({ value }) => value.dueAt !== undefined && Date.parse(value.dueAt) <= before).map(({ key }) => key);
}

/**
 * Marks `sha` deployed to the environment unless it already is: true for the one evaluator that may create the GitHub
 * Deployment (a compare-and-set, so two replicas evaluating the same commit cannot both pass).
 */
export async function markDeployed(store: Store, repository: string, environment: string, sha: string): Promise<boolean> {
  let first = false;
  await store.update<string>(deployedKey(repository, environment), (current) => {
    first = current !== sha;
    return first ? sha : undefined;
  });
  return first;
}

/** The mark goes again (nothing was queued, or GitHub refused it for good), unless another commit took its place. */
export async function unmarkDeployed(store: Store, repository: string, environment: string, sha: string): Promise<void> {
  await store.deleteIf<string>(deployedKey(repository, environment), (current) => current === sha);
}

function dueTime(pending: PendingCommit): number {
  return pending.dueAt ? Date.parse(pending.dueAt) : 0;
}
