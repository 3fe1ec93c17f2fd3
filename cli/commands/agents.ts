import type { AgentRecord } from '../../app/model.js';
import type { AgentFacts } from '../../app/rollout/select-agents.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print, printJson } from '../output.js';
import { synopsis } from '../command-registry.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand } from './parse-options.js';

/** `bitenvoy agents`: every enrolled agent with its labels, its verified `cloud.*` facts, and whether it is online. */
export async function agentsCommand(args: string[]): Promise<number> {
  if (args[0] === 'unbind') return unbindCommand(args.slice(1));
  const { values } = parseCommand('agents', args);
  const target = await resolveAdminTarget(values.hub, values.token);
  // The hub answers a page at a time, in name order: follow `next` to the end.
  type Listed = Omit<AgentRecord, 'credentialHash'> & { online: boolean; cloud?: AgentFacts };
  const agents: Listed[] = [];
  for (let after: string | undefined; ; ) {
    const page = await adminRequest<{ agents: Listed[]; next?: string }>(target, 'GET', `/agents${after ? `?after=${encodeURIComponent(after)}` : ''}`);
    agents.push(...page.agents);
    if (!page.next || page.agents.length === 0) break;
    after = page.next;
  }
  if (values.json) {
    printJson(agents, 2);
    return 0;
  }
  if (agents.length === 0) print('no agents enrolled; create a token with `bitenvoy hub token create`');
  for (const a of agents) {
    // Verified cloud facts next to the agent's own labels; tag values may hold spaces, so they are quoted when they do.
    const labels = Object.entries({ ...a.labels, ...a.cloud?.labels }).map(([k, v]) => `${oneLine(k)}=${/[\s,]/.test(v) ? JSON.stringify(v) : v}`).join(',') || '-';
    const unknown = a.cloud?.unknown ? `\tcloud facts unknown: ${oneLine(a.cloud.unknown)}` : '';
    print(`${oneLine(a.name)}\t${a.online ? 'online' : 'lost'}\t${oneLine(labels)}\tlast seen ${oneLine(a.lastSeenAt)}\t${oneLine(a.id)}${unknown}`);
  }
  return 0;
}

/** `bitenvoy agents unbind NAME`: forget the agent's cloud binding (e.g. after checking a quarantined server). */
async function unbindCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand('agents unbind', args);
  const name = positionals[0];
  if (!name || positionals.length > 1) throw new BitEnvoyError('BE_USAGE', `give one agent name\nusage: ${synopsis('agents unbind')}`);
  const target = await resolveAdminTarget(values.hub, values.token);
  const { unbound } = await adminRequest<{ unbound: boolean }>(target, 'POST', `/agents/${encodeURIComponent(name)}/unbind`);
  print(unbound ? `${name}: cloud binding removed; the agent proves its instance afresh at its next attestation` : `${name} had no cloud binding`);
  return 0;
}
