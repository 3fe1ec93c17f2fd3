import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BitEnvoyError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { version } from '../lib/package-root.js';
import { MAX_POLL_WAIT_SECONDS, type AgentSettings, type EnrollResponse, type Labels, type SuggestedAllow } from '../lib/protocol.js';
import { HubClient } from './hub-client.js';
import { readAgentYml } from './read-agent-yml.js';
import { checkSuggestedAllow, pinAllowlist, renderAgentYml, type AllowFlags, type PinnedAllowlist } from './starter-agent-yml.js';

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

/** What enrollment did about `<dir>/agent.yml`: wrote it (with what it pinned), or kept the owner's. */
export type AgentYmlOutcome =
  | { file: string; written: true; pinned: PinnedAllowlist; dropped: string[] }
  | { file: string; written: false; suggested: Partial<SuggestedAllow> };

/** What `bitenvoy agent enroll` passes: the hub, the one-time token, this server's name, labels and directory. */
export interface EnrollOptions {
  hub: string;
  token: string;
  name: string;
  labels: Labels;
  dir: string;
  force?: boolean;
  /** `--allow-…` lists for the agent.yml enrollment writes; each wins over the hub's suggestion. */
  allow?: AllowFlags;
  log: Logger;
}

/**
 * Enrolls this server with a one-time token and keeps the credential in `<dir>/agent.json` (mode 0600). When the
 * directory has no `agent.yml`, writes one (mode 0600) that pins `allow.gitBaseUrls`, `allow.branches` and
 * `allow.instructions` from the `allow` flags or else the hub's suggestion (see agent/starter-agent-yml.ts); an
 * existing agent.yml is never touched.
 *
 * @example
 * await enrollAgent({ hub, token, name: 'web-1', labels: { role: 'web' }, dir: '/var/lib/bitenvoy-agent', allow: { branches: ['main'] }, log });
 */
export async function enrollAgent(options: EnrollOptions): Promise<Enrollment & { dir: string; agentYml: AgentYmlOutcome }> {
  const dir = resolve(options.dir);
  const file = join(dir, 'agent.json');
  const agentYml = join(dir, 'agent.yml');
  if (!options.force && (await exists(file))) {
    throw new BitEnvoyError('BE_USAGE', `${file} exists: this directory is already enrolled; pass --force to enroll again (the old identity stays on the hub)`);
  }
  if (!/^https?:\/\//.test(options.hub)) throw new BitEnvoyError('BE_USAGE', `--hub ${options.hub}: expected the hub's http:// or https:// URL`);
  const flags = options.allow ?? {};
  const flagged = Object.values(flags).some((list) => list !== undefined);
  // Checked before the token is spent: a mistake here costs nothing.
  const kept = await exists(agentYml);
  if (kept && flagged) {
    throw new BitEnvoyError('BE_USAGE', `${agentYml} exists and enrollment never overwrites it, so the --allow-… flags would do nothing: change that file instead, or move it away and enroll again`);
  }
  if (flagged) await checkFlags(flags);

  const client = new HubClient({ hub: options.hub, log: options.log });
  const res = checkEnrollAnswer(await client.enroll({ token: options.token, name: options.name, labels: options.labels, version }), options.hub);
  const enrollment: Enrollment = { hub: options.hub.replace(/\/+$/, ''), agentId: res.agentId, name: options.name, credential: res.credential, settings: res.settings };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(enrollment, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600); // an agent.json enrolled over (--force) keeps the mode it had

  const suggestion = checkSuggestedAllow(res.suggestedAllow);
  if (kept) return { ...enrollment, dir, agentYml: { file: agentYml, written: false, suggested: suggestion.value } };
  const pinned = pinAllowlist(flags, suggestion.value);
  const written = await writeFile(agentYml, renderAgentYml(pinned, { hub: enrollment.hub, name: enrollment.name }), { mode: 0o600, flag: 'wx' }).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return false; // written by the owner meanwhile: theirs wins
      throw err;
    },
  );
  if (!written) return { ...enrollment, dir, agentYml: { file: agentYml, written: false, suggested: suggestion.value } };
  // Validates what was written (and keeps the checked value, so the agent's first start need not load the validator).
  await readAgentYml(dir);
  return { ...enrollment, dir, agentYml: { file: agentYml, written: true, pinned, dropped: suggestion.dropped } };
}

const FLAG_OF: Record<string, string> = {
  gitBaseUrls: '--allow-git-base-url',
  branches: '--allow-branches',
  instructions: '--allow-instructions',
  repositories: '--allow-repositories',
  environments: '--allow-environments',
};

/** The `--allow-…` lists checked against agent.schema.json, each problem named by its flag. */
async function checkFlags(flags: AllowFlags): Promise<void> {
  const { validateYamlFile } = await import('../config-schema/validate-yaml-file.js');
  const text = renderAgentYml(pinAllowlist(flags, {}), { hub: '-', name: '-' });
  const problems = validateYamlFile(text, 'agent', 'agent.yml').errors.map((issue) => `${FLAG_OF[/^allow\.(\w+)/.exec(issue.path)?.[1] ?? ''] ?? '--allow-…'}: ${issue.message}`);
  if (problems.length) throw new BitEnvoyError('BE_USAGE', `the --allow-… flags do not make a valid agent.yml, so nothing was sent to the hub:\n${problems.join('\n')}`);
}

const SETTING_BOUNDS: Array<[key: keyof AgentSettings, max: number]> = [
  ['pollWaitSeconds', MAX_POLL_WAIT_SECONDS],
  ['leaseSeconds', 3600],
  ['heartbeatSeconds', 3600],
];

/**
 * The enrollment answer, checked like anything the hub sends before any of it is kept or printed: the agent id as an
 * id (it is shown on the terminal), the credential as printable characters (it goes into a header), the settings as
 * numbers of seconds in the hub's own bounds (a poll wait or lease of no time, or not a number, makes the agent spin
 * or stall).
 */
function checkEnrollAnswer(res: unknown, hub: string): EnrollResponse {
  const answer = (typeof res === 'object' && res !== null ? res : {}) as Record<string, unknown>;
  const settings = (typeof answer.settings === 'object' && answer.settings !== null ? answer.settings : {}) as Record<string, unknown>;
  const problems = [
    ...(typeof answer.agentId === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(answer.agentId) ? [] : ['`agentId` is not an id of letters, digits, `_` and `-`']),
    ...(typeof answer.credential === 'string' && /^[\x21-\x7e]{16,4096}$/.test(answer.credential) ? [] : ['`credential` is not a token of printable characters']),
    ...SETTING_BOUNDS.flatMap(([key, max]) => {
      const value = settings[key];
      return typeof value === 'number' && value > 0 && value <= max ? [] : [`\`settings.${key}\` is not a number of seconds above 0 and at most ${max}`];
    }),
  ];
  if (problems.length) {
    throw new BitEnvoyError(
      'BE_BAD_REQUEST',
      `the hub's enrollment answer is malformed, so nothing was written: ${problems.join('; ')}. Check that ${hub} is a BitEnvoy hub of the same version; the token may have been spent, so create a new one (bitenvoy hub token create) before you enroll again`,
    );
  }
  return res as EnrollResponse;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}
