/**
 * `discovery_join_ms`: joining 5,000 discovered instances with 5,000 agents' proved identities, and resolving a group
 * that selects on `cloud.*` facts over them — the work a deployment does before planning, without provider latency.
 * One scope of the four is stale, so the unknown path is measured too. Target ≤ 200 ms.
 */
import { joinCloudFacts, type ScopeState } from '../app/cloud/cloud-facts.js';
import type { CloudInstance, ProvedIdentity } from '../app/cloud/cloud-instance.js';
import { selectWithFacts } from '../app/rollout/select-agents.js';

const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2'];
const ACCOUNT = '123456789012';

function fleet(size: number, now: number) {
  const scopes: ScopeState[] = REGIONS.map((region, r) => ({
    id: `aws/${ACCOUNT}/${region}`,
    provider: 'aws',
    account: ACCOUNT,
    region,
    // The last region was listed an hour ago: its agents' facts are unknown.
    lastGood: { at: new Date(now - (r === REGIONS.length - 1 ? 3_600_000 : 60_000)).toISOString(), instances: [] as CloudInstance[] },
  }));
  const agents: Array<{ id: string; name: string; labels: Record<string, string> }> = [];
  const bindings = new Map<string, ProvedIdentity>();
  for (let i = 0; i < size; i++) {
    const region = REGIONS[i % REGIONS.length]!;
    const instance: CloudInstance = {
      provider: 'aws',
      account: ACCOUNT,
      region,
      zone: `${region}${'abc'[i % 3]}`,
      instanceId: `i-${i.toString(16).padStart(17, '0')}`,
      instanceType: i % 2 ? 't3.small' : 'm6i.large',
      privateIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      tags: { Name: `web-${i}`, Role: i % 5 ? 'web' : 'worker', Env: i % 7 ? 'prod' : 'staging', 'aws:autoscaling:groupName': `shop-${i % 10}` },
    };
    scopes[i % REGIONS.length]!.lastGood!.instances.push(instance);
    agents.push({ id: `ag_${i}`, name: `web-${i}`, labels: { team: 'shop' } });
    bindings.set(`ag_${i}`, { provider: 'aws', account: ACCOUNT, instanceId: instance.instanceId, region });
  }
  return { scopes, agents, bindings };
}

/** Milliseconds of each of `runs` joins and resolutions of 5,000 × 5,000 (after one warm-up). */
export function measureDiscoveryJoin(size = 5000, runs = 11): { runs: number[]; selected: number; unknown: number } {
  const now = Date.now();
  const { scopes, agents, bindings } = fleet(size, now);
  const selector = { matchLabels: { team: 'shop' }, matchExpressions: [{ key: 'cloud.tag.Role', operator: 'In' as const, values: ['web'] }, { key: 'cloud.tag.Env', operator: 'NotIn' as const, values: ['staging'] }] };
  const times: number[] = [];
  let result = { selected: 0, unknown: 0 };
  for (let run = 0; run <= runs; run++) {
    const started = performance.now();
    const facts = joinCloudFacts(agents, bindings, scopes, { now, staleAfterMs: 15 * 60_000 });
    const picked = selectWithFacts(selector, agents, facts, 'cloud.');
    const elapsed = performance.now() - started;
    if (run > 0) times.push(Math.round(elapsed * 100) / 100);
    result = { selected: picked.selected.length, unknown: picked.unknown.length };
  }
  return { runs: times, ...result };
}
