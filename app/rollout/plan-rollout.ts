import type { Strategy } from '../../config-schema/types.generated.js';
import { parseDuration } from '../../lib/parse-duration.js';
import type { PlannedBatch, RolloutPolicy } from '../model.js';

/** One collation for every hub, whatever its locale; numeric, so `web-2` comes before `web-10`. */
const byName = new Intl.Collator('en', { numeric: true });

interface PlannableAgent {
  id: string;
  name: string;
  labels?: Record<string, string>;
}

/**
 * Orders a rollout's servers into batches. Agents are taken in name order (then id), so a plan is the same every
 * time for the same servers. `all-at-once`: one batch; `one-at-a-time`: one server per batch; `rolling`: batches of
 * `batchSize`; `canary`: the canary batch, then the rest in batches; `ordered`: each stage's servers in turn, the
 * servers no stage selects last. `pause` (or the canary's own) is set after every batch but the last.
 *
 * @example
 * planRollout({ type: 'rolling', batchSize: '50%' }, agents); // 4 agents → [{ agentIds: [a, b] }, { agentIds: [c, d] }]
 */
export function planRollout(strategy: Strategy, agents: PlannableAgent[]): PlannedBatch[] {
  const ordered = [...agents].sort((a, b) => byName.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = ordered.length;
  if (n === 0) return [];
  const ids = (list: PlannableAgent[]) => list.map((a) => a.id);
  const size = strategy.batchSize === undefined ? undefined : countOf(strategy.batchSize, n);
  let groups: string[][];
  switch (strategy.type) {
    case 'all-at-once':
      groups = [ids(ordered)];
      break;
    case 'one-at-a-time':
      groups = ordered.map((a) => [a.id]);
      break;
    case 'rolling':
      groups = chunk(ids(ordered), size ?? n);
      break;
    case 'canary': {
      const canary = Math.min(countOf(strategy.canary?.size ?? 1, n), n);
      const rest = ids(ordered.slice(canary));
      groups = [ids(ordered.slice(0, canary)), ...chunk(rest, size ?? rest.length)];
      break;
    }
    case 'ordered': {
      const left = [...ordered];
      groups = [];
      for (const stage of [...(strategy.stages ?? []).map((s) => s.matchLabels), undefined]) {
        const picked = stage ? left.filter((a) => Object.entries(stage).every(([k, v]) => a.labels?.[k] === v)) : [...left];
        for (const a of picked) left.splice(left.indexOf(a), 1);
        groups.push(...chunk(ids(picked), size ?? picked.length));
      }
      break;
    }
  }
  const batches = groups.filter((g) => g.length > 0).map((agentIds): PlannedBatch => ({ agentIds }));
  const between = strategy.pause === undefined ? undefined : pauseOf(strategy.pause);
  batches.forEach((batch, i) => {
    if (i === batches.length - 1) return;
    const pause = i === 0 && strategy.type === 'canary' && strategy.canary?.pause !== undefined ? pauseOf(strategy.canary.pause) : between;
    if (pause !== undefined) batch.pauseAfter = pause;
  });
  return batches;
}

/**
 * The failure policy for a rollout to `servers` servers: `maxFailures` (count or percentage, rounded down) or
 * `minHealthy` (CodeDeploy's rule: the servers that must succeed), and how long it may take (`timeout`).
 *
 * @example
 * rolloutPolicy({ type: 'rolling', minHealthy: '90%', timeout: '30m' }, 40); // { maxFailures: 4, timeoutMs: 1800000 }
 */
export function rolloutPolicy(strategy: Strategy, servers: number): RolloutPolicy {
  let maxFailures = 0;
  if (strategy.maxFailures !== undefined) maxFailures = typeof strategy.maxFailures === 'number' ? strategy.maxFailures : Math.floor((servers * percent(strategy.maxFailures)) / 100);
  else if (strategy.minHealthy !== undefined) maxFailures = Math.max(0, servers - countOf(strategy.minHealthy, servers));
  return {
    maxFailures,
    ...(strategy.timeout !== undefined ? { timeoutMs: parseDuration(strategy.timeout) } : {}),
    ...(strategy.onFailure === 'rollback' ? { onFailure: 'rollback' as const } : {}),
  };
}

/**
 * The strategy a rollback runs with: the same batches and failure policy, but no pause (putting the good commit back
 * must not wait for a person) and never a rollback of the rollback.
 *
 * @example
 * rollbackStrategy({ type: 'canary', canary: { size: 1, pause: 'manual' }, onFailure: 'rollback' }); // { type: 'canary', canary: { size: 1 } }
 */
export function rollbackStrategy(strategy: Strategy): Strategy {
  const { pause: _pause, onFailure: _onFailure, canary, ...rest } = strategy;
  if (!canary) return rest;
  const { pause: _canaryPause, ...size } = canary;
  return { ...rest, canary: size };
}

/** `5` → 5; `25%` of 10 → 3 (rounded up, at least one). */
function countOf(value: number | string, n: number): number {
  return typeof value === 'number' ? value : Math.max(1, Math.ceil((n * percent(value)) / 100));
}

function percent(value: string): number {
  return Number(value.replace('%', ''));
}

function pauseOf(value: number | string): number | 'manual' {
  return value === 'manual' ? 'manual' : parseDuration(value);
}

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += Math.max(1, size)) out.push(list.slice(i, i + Math.max(1, size)));
  return out;
}
