/**
 * The hub's Prometheus metrics (prom-client), on a registry of its own (several hubs may share a process in tests).
 *
 * Two kinds, by cost:
 * - Events counted as they happen in this process — deployments ending (by state and trigger) and how long their
 *   rollout took, jobs claimed and how long they waited, long polls held, webhook deliveries by event and outcome,
 *   GitHub requests by route and status and the rate limit GitHub says is left. Each replica counts its own;
 *   Prometheus sums them (`sum by (state) (…)`).
 * - Gauges read from the store at scrape time, each from an index, so a scrape costs the same with 10 or 10,000
 *   servers and any history: agents enrolled and lost, rollouts active, jobs of the active rollouts by state, the
 *   GitHub outbox's depth and age. They describe the shared store, so every replica reports the same values: use
 *   `max(…)`, not `sum(…)`, across replicas. They are a registry of their own (`storeRegistry`), read first: while
 *   the store does not answer, a scrape still succeeds without them, `bitenvoy_store_up` says 0, and what the process
 *   knows by itself (whether it leads, its polls, its counters) is there — a replica cut from its database shows as
 *   such, not as a failed scrape.
 *
 * Label values come from closed sets (states, triggers, route templates, outcomes) or from numbers GitHub assigns
 * (installation ids); a webhook's event name is used only once its signature is verified, so an anonymous sender
 * cannot grow the label space.
 *
 * @example
 * const metrics = new HubMetrics({ store, lostAfterMs: 180_000 });
 * metrics.deploymentChanged(deployment);
 * const text = await metrics.render(); // Prometheus text format
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FINAL_DEPLOYMENT_STATES } from '../../lib/protocol.js';
import type { DeploymentRecord, DeploymentTrigger } from '../model.js';
import { agentCounts } from '../store/agent-queries.js';
import type { StoreOperation } from '../store/sql/sql-database.js';
import type { Store } from '../store/store.js';


/** What became of a webhook delivery. */
export type WebhookOutcome = 'handled' | 'late' | 'refused' | 'failed' | 'duplicate';

/** Deployments remembered as counted, so a final state reported twice (a later description change) counts once. */
const COUNTED_MAX = 10_000;

export class HubMetrics {
  readonly registry = new Registry();
  /** The gauges read from the store (see above). */
  readonly storeRegistry = new Registry();
  #storeUp: Gauge;
  #store: Store;
  #lostAfterMs: number;
  #now: () => number;
  #counted = new Set<string>();
  #pollsHeld = 0;
  #deployments: Counter<'state' | 'trigger'>;
  #rolloutSeconds: Histogram<'state'>;
  #jobsClaimed: Counter;
  #dispatchSeconds: Histogram;
  #webhooks: Counter<'event' | 'outcome'>;
  #githubRequests: Counter<'method' | 'route' | 'status'>;
  #rateLimit: Gauge<'installation'>;
  #leaderChanges: Counter;
  #storeSeconds: Histogram<'operation'>;
  #leading = false;

  constructor(options: { store: Store; lostAfterMs: number; now?: () => number; processMetrics?: boolean }) {
    this.#store = options.store;
    this.#lostAfterMs = options.lostAfterMs;
    this.#now = options.now ?? Date.now;
    const registers = [this.registry];
    // The event-loop delay is sampled once a second (prom-client's default is every 10 ms). Each sample is a wake-up
    // of the process: every 50 ms they were 0.25 % of a core on their own (a hub with no agent used 0.40 %, and 0.17 %
    // sampling once a second), an eighth of the 2 % an idle 10,000-agent hub may use. A stall still shows whole: the
    // pending sample is late by as long as the loop was blocked, and that delay is what is recorded.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1000 });

    this.#deployments = new Counter({ name: 'bitenvoy_deployments_total', help: 'Deployments that ended, by final state and what started them.', labelNames: ['state', 'trigger'], registers });
    this.#rolloutSeconds = new Histogram({
      name: 'bitenvoy_rollout_duration_seconds',
      help: 'From a deployment being planned to its final state.',
      labelNames: ['state'],
      buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers,
    });
    this.#jobsClaimed = new Counter({ name: 'bitenvoy_jobs_claimed_total', help: 'Jobs taken by their agent.', registers });
    this.#dispatchSeconds = new Histogram({
      name: 'bitenvoy_dispatch_latency_seconds',
      help: "From a job being created to its agent claiming it (the long poll's wake-up, the agent's claim).",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60],
      registers,
    });
    this.#webhooks = new Counter({ name: 'bitenvoy_webhook_deliveries_total', help: 'GitHub webhook deliveries by event (unverified ones as "unverified") and outcome.', labelNames: ['event', 'outcome'], registers });
    this.#githubRequests = new Counter({ name: 'bitenvoy_github_requests_total', help: 'Requests to the GitHub API by method, route template and HTTP status ("error" when none came).', labelNames: ['method', 'route', 'status'], registers });
    this.#rateLimit = new Gauge({ name: 'bitenvoy_github_rate_limit_remaining', help: 'Requests left in the current GitHub rate-limit window, as the last answer said, per installation ("app" for the App itself).', labelNames: ['installation'], registers });

    this.#storeSeconds = new Histogram({
      name: 'bitenvoy_store_query_duration_seconds',
      help: 'Time of the store statements this process ran (read, write) and of its write transactions.',
      labelNames: ['operation'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.#leaderChanges = new Counter({ name: 'bitenvoy_leader_changes_total', help: 'Times this process started or stopped leading (running the periodic work for all replicas).', registers });
    const leader: Gauge = new Gauge({
      name: 'bitenvoy_leader',
      help: '1 while this process leads (runs lease expiry, retention, discovery and the sweeps for all replicas), else 0.',
      registers,
      collect: () => leader.set(this.#leading ? 1 : 0),
    });
    const polls: Gauge = new Gauge({
      name: 'bitenvoy_long_polls_held',
      help: 'Agent long polls this process holds open now.',
      registers,
      collect: () => polls.set(this.#pollsHeld),
    });
    this.#storeUp = new Gauge({ name: 'bitenvoy_store_up', help: '1 when the store answered this scrape, 0 when it did not (the gauges read from it are then left out).', registers });
    const stored = [this.storeRegistry];
    const agents: Gauge<'status'> = new Gauge({
      name: 'bitenvoy_agents',
      help: 'Enrolled agents: all of them, and those lost (no request for 3 heartbeat intervals). The same on every replica.',
      labelNames: ['status'],
      registers: stored,
      collect: async () => {
        const { enrolled, lost } = await agentCounts(this.#store, new Date(this.#now() - this.#lostAfterMs).toISOString());
        agents.set({ status: 'enrolled' }, enrolled);
        agents.set({ status: 'online' }, Math.max(0, enrolled - lost));
        agents.set({ status: 'lost' }, lost);
      },
    });
    const active: Gauge = new Gauge({
      name: 'bitenvoy_deployments_active',
      help: 'Deployments not in a final state (running, paused, queued behind another). The same on every replica.',
      registers: stored,
      collect: async () => {
        const row = await this.#store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM deployments WHERE active = 1');
        active.set(Number(row?.n ?? 0));
      },
    });
    const jobs: Gauge<'state'> = new Gauge({
      name: 'bitenvoy_jobs',
      help: 'Jobs of the active deployments by state (from the per-deployment counters). The same on every replica.',
      labelNames: ['state'],
      registers: stored,
      collect: async () => {
        jobs.reset();
        const rows = await this.#store.db.all<{ state: string; n: number }>(
          "SELECT c.state AS state, SUM(c.n) AS n FROM deployments d JOIN job_counts c ON c.deployment_id = substr(d.key, 12) WHERE d.active = 1 GROUP BY c.state",
        );
        for (const row of rows) jobs.set({ state: row.state }, Number(row.n));
      },
    });
    const depth: Gauge<'kind'> = new Gauge({
      name: 'bitenvoy_github_outbox_depth',
      help: 'GitHub side effects waiting to be sent: final deployment statuses not yet seen taken ("status") and PR replies, reactions, check runs ("effect").',
      labelNames: ['kind'],
      registers: stored,
      collect: async () => {
        const ages = await this.#outbox();
        depth.set({ kind: 'status' }, ages.statuses.n);
        depth.set({ kind: 'effect' }, ages.effects.n);
      },
    });
    const oldest: Gauge<'kind'> = new Gauge({
      name: 'bitenvoy_github_outbox_oldest_seconds',
      help: 'Age of the oldest GitHub side effect waiting to be sent (0 when none waits).',
      labelNames: ['kind'],
      registers: stored,
      collect: async () => {
        const ages = await this.#outbox();
        const age = (since: string | null) => (since ? Math.max(0, (this.#now() - Date.parse(since)) / 1000) : 0);
        oldest.set({ kind: 'status' }, age(ages.statuses.oldest));
        oldest.set({ kind: 'effect' }, age(ages.effects.oldest));
      },
    });
  }

  /** Prometheus text format: the process's own metrics, then those read from the store if it answers. */
  async render(): Promise<string> {
    let fromStore = '';
    try {
      fromStore = await this.storeRegistry.metrics();
      this.#storeUp.set(1);
    } catch {
      this.#storeUp.set(0);
    }
    return (await this.registry.metrics()) + fromStore;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every change of a deployment passes here; its final state is counted once. */
  deploymentChanged(d: DeploymentRecord): void {
    if (!FINAL_DEPLOYMENT_STATES.includes(d.state) || this.#counted.has(d.id)) return;
    this.#counted.add(d.id);
    if (this.#counted.size > COUNTED_MAX) this.#counted.delete(this.#counted.values().next().value!);
    this.#deployments.inc({ state: d.state, trigger: triggerOf(d) });
    const seconds = (Date.parse(d.finishedAt ?? d.updatedAt) - Date.parse(d.createdAt)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) this.#rolloutSeconds.observe({ state: d.state }, seconds);
  }

  /** A job taken by its agent for the first time; `createdAt` is the job's. */
  jobClaimed(createdAt: string): void {
    this.#jobsClaimed.inc();
    const seconds = (this.#now() - Date.parse(createdAt)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) this.#dispatchSeconds.observe(seconds);
  }

  /** How long one store statement or transaction took (SqlDatabase.observe). */
  storeOperation(operation: StoreOperation, seconds: number): void {
    this.#storeSeconds.observe({ operation }, seconds);
  }

  /** This process started or stopped leading. */
  leaderChanged(leading: boolean): void {
    this.#leading = leading;
    this.#leaderChanges.inc();
  }

  /** A long poll started (+1) or ended (-1) waiting. */
  pollHeld(delta: 1 | -1): void {
    this.#pollsHeld += delta;
  }

  /** `event` only for a delivery whose signature was verified; anything else is counted as "unverified". */
  webhookDelivery(event: string | undefined, outcome: WebhookOutcome): void {
    this.#webhooks.inc({ event: event && /^[a-z_]{1,64}$/.test(event) ? event : 'unverified', outcome });
  }

  /** One request to GitHub: the route template (never the filled-in URL), the status, and what the rate limit says. */
  githubRequest(request: { method: string; route: string; status: number | undefined; installationId?: number; rateLimitRemaining?: number }): void {
    this.#githubRequests.inc({ method: request.method, route: request.route, status: request.status === undefined ? 'error' : String(request.status) });
    if (request.rateLimitRemaining !== undefined && Number.isFinite(request.rateLimitRemaining)) {
      this.#rateLimit.set({ installation: request.installationId === undefined ? 'app' : String(request.installationId) }, request.rateLimitRemaining);
    }
  }

  /** Both queues' depth and oldest entry, each from its own index (read once per scrape). */
  async #outbox(): Promise<OutboxFigures> {
    const now = this.#now();
    if (this.#outboxRead && now - this.#outboxRead.at < 1000) return this.#outboxRead.value;
    const statuses = await this.#store.db.get<{ n: number; oldest: string | null }>('SELECT COUNT(*) AS n, MIN(finished_at) AS oldest FROM deployments WHERE github_unreported = 1');
    const effects = await this.#store.db.get<{ n: number; oldest: string | null }>('SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM github_effects');
    const value = {
      statuses: { n: Number(statuses?.n ?? 0), oldest: statuses?.oldest ?? null },
      effects: { n: Number(effects?.n ?? 0), oldest: effects?.oldest ?? null },
    };
    this.#outboxRead = { at: now, value };
    return value;
  }

  #outboxRead: { at: number; value: OutboxFigures } | undefined;
}

interface OutboxFigures {
  statuses: { n: number; oldest: string | null };
  effects: { n: number; oldest: string | null };
}

/** The `trigger` label of a deployment. */
export function triggerOf(d: Pick<DeploymentRecord, 'trigger' | 'rollbackOf' | 'github' | 'createdBy'>): DeploymentTrigger {
  if (d.trigger) return d.trigger;
  if (d.rollbackOf) return 'rollback';
  if (d.github) return 'github';
  if (d.createdBy === 'api' || d.createdBy === 'cli' || d.createdBy === 'dashboard') return d.createdBy;
  if (d.createdBy.startsWith('dashboard')) return 'dashboard';
  return 'other';
}
