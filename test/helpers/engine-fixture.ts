/**
 * A rollout engine on a real SQLite store in a temp dir, with a fake clock, an inline config (one repository,
 * group `web` = role=web) and helpers that play agents.
 *
 * @example
 * const f = await openEngineFixture();
 * await f.addAgent('ag_a', 'web-1');
 * const dep = await f.engine().createDeployment(DEPLOY, 'test');
 * await f.close();
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keys, type AgentRecord } from '../../app/model.js';
import { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import type { Environment, Strategy } from '../../config-schema/types.generated.js';
import { BUILT_IN_STRATEGIES, type LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { silentLogger } from '../../lib/logger.js';
import type { CreateDeploymentRequest, JobEvent, ReportedJobState } from '../../lib/protocol.js';

export const SHA = 'a'.repeat(40);
export const DEPLOY: CreateDeploymentRequest = { repository: 'acme/shop', ref: 'main', environment: 'staging' };
export const ENGINE_SETTINGS = { leaseSeconds: 60, heartbeatSeconds: 60, pollWaitSeconds: 50, publicUrl: 'http://hub.test' };

export function configWith(strategy: string, extra: Record<string, Strategy> = {}, groups: LoadedConfig['groups'] = { web: { selector: { matchLabels: { role: 'web' } } } }): LoadedConfig & { sha: string } {
  return {
    sha: 'c'.repeat(40),
    groups,
    strategies: { ...BUILT_IN_STRATEGIES, ...extra },
    repositories: {
      'acme/shop': {
        name: 'acme/shop',
        file: 'repositories/acme/shop.yml',
        git: 'https://git.test/acme/shop.git',
        instructions: 'deploy/bitenvoy.yml',
        environments: { staging: { branch: 'main', group: 'web', strategy, url: 'https://staging.shop.test' } },
      },
    },
  };
}

export function stateEvent(seq: number, state: ReportedJobState, message?: string): JobEvent {
  return { seq, at: '2026-11-25T10:00:00.000Z', type: 'state', state, ...(message ? { message } : {}) };
}

export interface EngineFixture {
  store: Store;
  /** The fake clock, in ms; tests move it forward. */
  now: number;
  strategy: string;
  /** What a branch or tag resolves to (a full SHA resolves to itself); tests change it to ship a new commit. */
  sha: string;
  /** The config's groups (default: `web` = role=web). */
  groups?: LoadedConfig['groups'];
  /** Strategies besides the built-in ones, by name. */
  strategies: Record<string, Strategy>;
  /** Environments of acme/shop besides `staging` (e.g. a `production` with `after: staging`). */
  environments: Record<string, Environment>;
  /** A new engine on the fixture's store (as after a hub restart); stopped by close(). */
  engine(options?: Pick<ConstructorParameters<typeof RolloutEngine>[0], 'startRollback' | 'cloudFacts' | 'onChange' | 'mode' | 'describeCommit'>): RolloutEngine;
  addAgent(id: string, name: string, labels?: Record<string, string>, lastSeen?: number): Promise<void>;
  /** Plays an agent: takes its next job, claims it and reports running then the outcome. Returns the job id. */
  agentRuns(engine: RolloutEngine, agentId: string, outcome?: 'succeeded' | 'failed', message?: string): Promise<string>;
  close(): Promise<void>;
}

/** With `store`, the fixture runs on that store (e.g. one of test/helpers/store-backends.ts) instead of its own SQLite file. */
export async function openEngineFixture(options: { store?: Store } = {}): Promise<EngineFixture> {
  const dir = options.store ? undefined : await mkdtemp(join(tmpdir(), 'bitenvoy-engine-'));
  const store = options.store ?? (await openStore({ dataDir: dir! }));
  const engines: RolloutEngine[] = [];
  const f: EngineFixture = {
    store,
    now: Date.parse('2026-11-25T10:00:00Z'),
    strategy: 'all-at-once',
    sha: SHA,
    strategies: {},
    environments: {},
    engine(options = {}) {
      const engine = new RolloutEngine({
        ...options,
        store,
        log: silentLogger(),
        settings: ENGINE_SETTINGS,
        config: () => {
          const config = configWith(f.strategy, f.strategies, f.groups);
          Object.assign(config.repositories['acme/shop']!.environments, f.environments);
          return config;
        },
        now: () => f.now,
        resolveRef: async (_url, ref) => (/^[0-9a-f]{40}$/.test(ref) ? ref : f.sha),
      });
      engines.push(engine);
      return engine;
    },
    async addAgent(id, name, labels = { role: 'web' }, lastSeen = f.now) {
      const seen = new Date(lastSeen).toISOString();
      const agent: AgentRecord = { id, name, labels, version: 'test', credentialHash: id, enrolledAt: seen, lastSeenAt: seen };
      await store.set(keys.agent(id), agent);
      await store.set(keys.agentByName(name), id);
    },
    async agentRuns(engine, agentId, outcome = 'succeeded', message) {
      const job = await engine.nextJob(agentId);
      if (!job) throw new Error(`no job for ${agentId}`);
      await engine.claimJob(agentId, job.id, `cl_${agentId}`);
      await engine.appendEvents(agentId, job.id, `cl_${agentId}`, [stateEvent(1, 'running'), stateEvent(2, outcome, message)]);
      return job.id;
    },
    async close() {
      for (const e of engines.splice(0)) e.stop();
      await store.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
  return f;
}
