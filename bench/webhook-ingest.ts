/**
 * `webhook_ingest_per_s` (see bench/replicas.ts): three replicas in GitHub mode on one PostgreSQL database, simulated
 * agents holding long polls on all of them, and signed `push` deliveries — GitHub's example payload for the sample
 * repository (testbed/github-webhooks.ts), each to a branch of its own that no environment follows and with its own
 * delivery id, so each is verified, remembered for deduplication and handled, and none starts a rollout — posted to
 * every replica by `concurrency` senders each on keep-alive connections, for `seconds`. The figure: deliveries answered
 * 2xx per second per replica, with the p50 and p99 of their round trips, and the refused ones by status.
 *
 * @example
 * const figure = await measureWebhookIngest({ seconds: 20, agents: 1000, concurrency: 16, fleetConcurrency: 50 }, console.log);
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { SAMPLE_REPOSITORY } from '../testbed/sample-app.js';
import { repositoryPayload, webhookPayload } from '../testbed/github-webhooks.js';
import { WORLD_INSTALLATION_ID } from '../testbed/world.js';
import { median, round, type Simulator } from './fleet.js';
import { percentile } from './percentile.js';
import { startFleet, startReplicaSet } from './replica-set.js';

export interface WebhookIngestOptions {
  seconds: number;
  /** Simulated agents polling the replicas meanwhile (spread round-robin). */
  agents: number;
  /** Deliveries in flight at once to each replica. */
  concurrency: number;
  /** The simulator's enrollment concurrency. */
  fleetConcurrency: number;
}

function post(agent: Agent, url: URL, headers: Record<string, string | number>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function measureWebhookIngest(options: WebhookIngestOptions, log: (line: string) => void) {
  const set = await startReplicaSet({ replicas: 3, github: { requiredChecks: ['test'] } });
  let sim: Simulator | undefined;
  try {
    if (options.agents > 0) sim = await startFleet(set, options.agents, options.fleetConcurrency, options.seconds + 1800, log);
    const secret = set.world.hubEnv.WEBHOOK_SECRET!;
    const repository = repositoryPayload(SAMPLE_REPOSITORY, set.world.git.url);
    const template = webhookPayload('push', undefined, { ref: 'refs/heads/BRANCH', before: '0'.repeat(40), after: 'SHA' }, repository, WORLD_INSTALLATION_ID);
    const text = JSON.stringify(template);
    const perReplica = set.replicas.map(() => ({ accepted: 0, refused: {} as Record<string, number>, ms: [] as number[] }));
    let n = 0;
    const until = performance.now() + options.seconds * 1000;
    const githubBefore = set.world.github!.requests.length;
    const started = performance.now();
    const pools = set.replicas.map(() => new Agent({ keepAlive: true, maxSockets: options.concurrency }));
    await Promise.all(
      set.replicas.flatMap((replica, r) => {
        const url = new URL(`${replica.url}/api/github/webhooks`);
        const pool = pools[r]!;
        const counts = perReplica[r]!;
        return Array.from({ length: options.concurrency }, async () => {
          while (performance.now() < until) {
            const body = text.replace('refs/heads/BRANCH', `refs/heads/bench-${++n}`).replace('"SHA"', `"${randomBytes(20).toString('hex')}"`);
            const headers = {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'x-github-event': 'push',
              'x-github-delivery': randomUUID(),
              'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
              'user-agent': 'GitHub-Hookshot/bench',
            };
            const sent = performance.now();
            const status = await post(pool, url, headers, body).catch((err: unknown) => `error ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
            if (typeof status === 'number' && status >= 200 && status < 300) {
              counts.accepted++;
              counts.ms.push(performance.now() - sent);
            } else counts.refused[String(status)] = (counts.refused[String(status)] ?? 0) + 1;
          }
        });
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    for (const pool of pools) pool.destroy();
    // What the deliveries cost in GitHub requests (none expected: no branch of theirs is followed).
    const githubRequests = set.world.github!.requests.length - githubBefore;
    const all = perReplica.flatMap((c) => c.ms);
    const rates = perReplica.map((c) => round(c.accepted / seconds));
    const figure = {
      value: round(median(rates)!),
      per_replica: Object.fromEntries(set.names.map((name, i) => [name, { per_s: rates[i], p99_ms: percentile(perReplica[i]!.ms, 99), refused: perReplica[i]!.refused }])),
      total_per_s: round(all.length / seconds),
      p50_ms: percentile(all, 50),
      p99_ms: percentile(all, 99),
      seconds: round(seconds),
      concurrency_per_replica: options.concurrency,
      agents_polling: options.agents,
      github_requests: githubRequests,
    };
    log(`webhook_ingest_per_s: ${rates.join(' / ')} per replica (${figure.total_per_s} in all), p50 ${figure.p50_ms} ms, p99 ${figure.p99_ms} ms, with ${options.agents} agents polling`);
    return figure;
  } finally {
    await sim?.stop();
    await set.close();
  }
}
