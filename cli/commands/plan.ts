import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AgentRecord } from '../../app/model.js';
import { planRollout, rolloutPolicy } from '../../app/rollout/plan-rollout.js';
import { describeSelector, selectAgents } from '../../app/rollout/select-agents.js';
import { formatIssues, validateConfigDir } from '../../config-schema/validate-config-dir.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print } from '../output.js';
import { synopsis } from '../command-registry.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand, required } from './parse-options.js';

type PlanAgent = Pick<AgentRecord, 'name' | 'labels'> & { id?: string; online?: boolean };

/**
 * `bitenvoy plan`: the batches a rollout would have, in order, for a config repo checkout and a set of agents —
 * the hub's online agents, or a JSON file (an array of `{ name, labels }`, or `bitenvoy agents --json`'s output).
 * Nothing is created.
 */
export async function planCommand(args: string[]): Promise<number> {
  const { values } = parseCommand('plan', args);
  const repository = required(values.repository, 'repository', synopsis('plan'));
  const environment = required(values.environment, 'environment', synopsis('plan'));
  const dir = resolve(values.config ?? '.');
  const { value: config, errors } = await validateConfigDir(dir);
  if (!config) throw new BitEnvoyError('BE_CONFIG_INVALID', `the config in ${dir} is not valid:\n${formatIssues(errors)}`);
  const repo = config.repositories[repository];
  if (!repo) throw new BitEnvoyError('BE_USAGE', `${repository} is not configured in ${dir}; configured: ${Object.keys(config.repositories).join(', ') || 'none'}`);
  const env = repo.environments[environment];
  if (!env) throw new BitEnvoyError('BE_USAGE', `${repository} has no environment \`${environment}\`; its environments: ${Object.keys(repo.environments).join(', ')}`);
  const strategyName = env.strategy ?? 'all-at-once';
  const strategy = config.strategies[strategyName]!;
  const group = config.groups[env.group]!;

  const all = await loadAgents(values.agents, values.hub, values.token);
  const agents = all.map((a, i) => ({ ...a, id: a.id ?? `agent-${i + 1}` }));
  const matching = selectAgents(group.selector, agents);
  const ready = matching.filter((a) => a.online !== false);
  const lost = matching.filter((a) => a.online === false);
  const names = new Map(agents.map((a) => [a.id, oneLine(a.name)]));
  const batches = planRollout(strategy, ready);
  const policy = rolloutPolicy(strategy, ready.length);
  const out = [
    `${repository} → ${environment}: group ${env.group} (${describeSelector(group.selector)}), strategy ${strategyName} (${strategy.type})`,
    `servers: ${ready.length} of ${agents.length} agents${lost.length ? `; lost, left out: ${lost.map((a) => oneLine(a.name)).join(', ')}` : ''}`,
    ...batches.map((b, i) => `batch ${i + 1}: ${b.agentIds.map((id) => names.get(id)).join(', ')}${b.pauseAfter === undefined ? '' : b.pauseAfter === 'manual' ? '   then wait to be continued (bitenvoy continue, its page, or /continue in GitHub mode)' : `   then pause ${duration(b.pauseAfter)}`}`),
    batches.length ? `failure policy: ${policy.maxFailures === 0 ? 'stop at the first failed server' : `up to ${policy.maxFailures} failed server${policy.maxFailures === 1 ? '' : 's'}`}${policy.timeoutMs ? `; the whole rollout within ${duration(policy.timeoutMs)}` : ''}${policy.onFailure === 'rollback' ? '; on failure, roll the servers that moved back to the last good commit' : ''}` : 'no agent of the group is available: the deployment would end in error',
  ];
  // Agent names and labels come from the hub (or a file): print() drops control characters.
  print(out.join('\n'));
  return 0;
}

/** 120000 → `2m`, 90000 → `90s`. */
function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

async function loadAgents(file: string | undefined, hub: string | undefined, token: string | undefined): Promise<PlanAgent[]> {
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new BitEnvoyError('BE_USAGE', `--agents ${file}: cannot read it as JSON (${(err as Error).message}); give an array of { "name": …, "labels": { … } }`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { agents?: unknown }).agents;
    if (!Array.isArray(list) || !list.every((a) => typeof (a as PlanAgent)?.name === 'string' && typeof (a as PlanAgent).labels === 'object')) {
      throw new BitEnvoyError('BE_USAGE', `--agents ${file}: expected an array of { "name": "web-1", "labels": { "role": "web" } }`);
    }
    return list as PlanAgent[];
  }
  const target = await resolveAdminTarget(hub, token);
  return (await adminRequest<{ agents: PlanAgent[] }>(target, 'GET', '/agents')).agents;
}
