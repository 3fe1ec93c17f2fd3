import type { AgentRecord } from '../../app/model.js';
import type { AgentFacts } from '../../app/rollout/select-agents.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseOptions } from './parse-options.js';

const USAGE = 'bitenvoy agents [--hub URL] [--token T] [--json]\n       bitenvoy agents unbind NAME [--hub URL] [--token T]';

/** `bitenvoy agents`: every enrolled agent with its labels, its verified `cloud.*` facts, and whether it is online. */
export async function agentsCommand(args: string[]): Promise<number> {
  if (args[0] === 'unbind') return unbindCommand(args.slice(1));
  const { values } = parseOptions('agents', args, { hub: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  if (values.help) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const target = await resolveAdminTarget(values.hub, values.token);
  const { agents } = await adminRequest<{ agents: Array<Omit<AgentRecord, 'credentialHash'> & { online: boolean; cloud?: AgentFacts }> }>(target, 'GET', '/agents');
  if (values.json) {
    process.stdout.write(JSON.stringify(agents, null, 2) + '\n');
    return 0;
  }
  if (agents.length === 0) process.stdout.write('no agents enrolled; create a token with `bitenvoy hub token create`\n');
  for (const a of agents) {
    // Verified cloud facts next to the agent's own labels; tag values may hold spaces, so they are quoted when they do.
    const labels = Object.entries({ ...a.labels, ...a.cloud?.labels }).map(([k, v]) => `${k}=${/[\s,]/.test(v) ? JSON.stringify(v) : v}`).join(',') || '-';
    const unknown = a.cloud?.unknown ? `\tcloud facts unknown: ${a.cloud.unknown}` : '';
    process.stdout.write(`${a.name}\t${a.online ? 'online' : 'lost'}\t${labels}\tlast seen ${a.lastSeenAt}\t${a.id}${unknown}\n`);
  }
  return 0;
}

/** `bitenvoy agents unbind NAME`: forget the agent's cloud binding (e.g. after checking a quarantined server). */
async function unbindCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions('agents unbind', args, { hub: { type: 'string' }, token: { type: 'string' } }, USAGE, true);
  if (values.help) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const name = positionals[0];
  if (!name || positionals.length > 1) throw new BitEnvoyError('BE_USAGE', `give one agent name\nusage: ${USAGE}`);
  const target = await resolveAdminTarget(values.hub, values.token);
  const { unbound } = await adminRequest<{ unbound: boolean }>(target, 'POST', `/agents/${encodeURIComponent(name)}/unbind`);
  process.stdout.write(unbound ? `${name}: cloud binding removed; the agent proves its instance afresh at its next attestation\n` : `${name} had no cloud binding\n`);
  return 0;
}
