import type { AgentRecord } from '../../app/model.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseOptions } from './parse-options.js';

const USAGE = 'bitenvoy agents [--hub URL] [--token T] [--json]';

/** `bitenvoy agents`: every enrolled agent with its labels and whether it is online. */
export async function agentsCommand(args: string[]): Promise<number> {
  const { values } = parseOptions('agents', args, { hub: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  if (values.help) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const target = await resolveAdminTarget(values.hub, values.token);
  const { agents } = await adminRequest<{ agents: Array<Omit<AgentRecord, 'credentialHash'> & { online: boolean }> }>(target, 'GET', '/agents');
  if (values.json) {
    process.stdout.write(JSON.stringify(agents, null, 2) + '\n');
    return 0;
  }
  if (agents.length === 0) process.stdout.write('no agents enrolled; create a token with `bitenvoy hub token create`\n');
  for (const a of agents) {
    const labels = Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-';
    process.stdout.write(`${a.name}\t${a.online ? 'online' : 'lost'}\t${labels}\tlast seen ${a.lastSeenAt}\t${a.id}\n`);
  }
  return 0;
}
