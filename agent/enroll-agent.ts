import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BitEnvoyError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { version } from '../lib/package-root.js';
import type { AgentSettings, Labels } from '../lib/protocol.js';
import { HubClient } from './hub-client.js';

/** What `<dir>/agent.json` holds (mode 0600): the agent's identity and credential. */
export interface Enrollment {
  hub: string;
  agentId: string;
  name: string;
  credential: string;
  settings: AgentSettings;
}

/**
 * `k=v,k2=v2` → labels; a clear error for anything else.
 *
 * @example
 * parseLabels('role=web,region=eu'); // { role: 'web', region: 'eu' }
 */
export function parseLabels(text: string): Labels {
  const labels: Labels = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([A-Za-z0-9][A-Za-z0-9._/-]{0,252})=([A-Za-z0-9._-]{0,63})$/.exec(part);
    if (!match) {
      throw new BitEnvoyError('BE_USAGE', `--labels: \`${part}\` is not a label; write key=value pairs separated by commas, e.g. role=web,region=eu (values: letters, digits, . _ -)`);
    }
    labels[match[1]!] = match[2]!;
  }
  return labels;
}

/**
 * Enrolls this server with a one-time token and keeps the credential in `<dir>/agent.json` (mode 0600).
 *
 * @example
 * await enrollAgent({ hub, token, name: 'web-1', labels: { role: 'web' }, dir: '/var/lib/bitenvoy-agent', log });
 */
export async function enrollAgent(options: { hub: string; token: string; name: string; labels: Labels; dir: string; force?: boolean; log: Logger }): Promise<Enrollment & { dir: string }> {
  const dir = resolve(options.dir);
  const file = join(dir, 'agent.json');
  if (!options.force && (await stat(file).catch(() => undefined))) {
    throw new BitEnvoyError('BE_USAGE', `${file} exists: this directory is already enrolled; pass --force to enroll again (the old identity stays on the hub)`);
  }
  if (!/^https?:\/\//.test(options.hub)) throw new BitEnvoyError('BE_USAGE', `--hub ${options.hub}: expected the hub's http:// or https:// URL`);
  const client = new HubClient({ hub: options.hub, log: options.log });
  const res = await client.enroll({ token: options.token, name: options.name, labels: options.labels, version });
  const enrollment: Enrollment = { hub: options.hub.replace(/\/+$/, ''), agentId: res.agentId, name: options.name, credential: res.credential, settings: res.settings };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(enrollment, null, 2) + '\n', { mode: 0o600 });
  return { ...enrollment, dir };
}
