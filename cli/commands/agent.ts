import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';
import type { AgentYmlOutcome } from '../../agent/enroll-agent.js';
import type { AllowFlags, describePinned as DescribePinnedFn } from '../../agent/starter-agent-yml.js';

type DescribePinned = typeof DescribePinnedFn;
import { listed } from '../../agent/listed.js';
import { synopsis } from '../command-registry.js';
import { firstOf, parseOptions, required } from './parse-options.js';

// Help and usage lines come from the command registry (cli/command-registry.ts): a new option needs its line there.
const ENROLL_USAGE = synopsis('agent enroll');
const RUN_USAGE = synopsis('agent run');
const INSTALL_USAGE = synopsis('agent install');
const UNINSTALL_USAGE = synopsis('agent uninstall');
const UPGRADE_USAGE = synopsis('agent upgrade');

/** `--allow-…` option → `allow` key of agent.yml. Each is repeatable and takes a comma-separated list. */
const ALLOW_OPTIONS = {
  'allow-git-base-url': 'gitBaseUrls',
  'allow-branches': 'branches',
  'allow-instructions': 'instructions',
  'allow-repositories': 'repositories',
  'allow-environments': 'environments',
} as const satisfies Record<string, keyof AllowFlags>;

/** `bitenvoy agent enroll|run|install|uninstall|upgrade …`. */
export async function agentCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'enroll') return enroll(rest);
  if (sub === 'run') return run(rest);
  // The service commands live in their own module: a running agent never loads them.
  if (sub === 'install' || sub === 'uninstall' || sub === 'upgrade') return (await import('./agent-service.js')).agentServiceCommand(sub, rest);
  const usages = [ENROLL_USAGE, RUN_USAGE, INSTALL_USAGE, UNINSTALL_USAGE, UPGRADE_USAGE];
  throw new BitEnvoyError('BE_USAGE', `unknown \`agent\` command \`${sub ?? ''}\`\nusage: ${usages.join('\n       ')}`);
}

/** The agent directory, from `--dir` or BITENVOY_AGENT_DIR, resolved once: everything after sees an absolute path. */
function agentDir(flag: string | undefined, usage: string): string {
  return resolve(required(firstOf(flag, process.env.BITENVOY_AGENT_DIR), 'dir', usage));
}

async function enroll(args: string[]): Promise<number> {
  const { values } = parseOptions(
    'agent enroll',
    args,
    {
      hub: { type: 'string' },
      token: { type: 'string' },
      dir: { type: 'string' },
      name: { type: 'string' },
      labels: { type: 'string' },
      force: { type: 'boolean' },
      'allow-git-base-url': { type: 'string', multiple: true },
      'allow-branches': { type: 'string', multiple: true },
      'allow-instructions': { type: 'string', multiple: true },
      'allow-repositories': { type: 'string', multiple: true },
      'allow-environments': { type: 'string', multiple: true },
    },
    ENROLL_USAGE,
  );
  if (values.help) {
    process.stdout.write(`usage: ${ENROLL_USAGE}\n`);
    return 0;
  }
  const dir = agentDir(values.dir, ENROLL_USAGE);
  const allow: AllowFlags = {};
  for (const [option, key] of Object.entries(ALLOW_OPTIONS)) {
    const given = values[option as keyof typeof ALLOW_OPTIONS];
    if (given) allow[key] = commaList(option, given);
  }
  const log = createLogger({ name: 'bitenvoy-agent', destination: process.stderr });
  // Enrollment's modules load only to enroll, the run loop's only to run: a running agent's memory is budgeted.
  const [{ enrollAgent, parseLabels }, { describePinned }] = await Promise.all([import('../../agent/enroll-agent.js'), import('../../agent/starter-agent-yml.js')]);
  const result = await enrollAgent({
    hub: required(firstOf(values.hub, process.env.BITENVOY_HUB_URL), 'hub', ENROLL_USAGE),
    token: required(firstOf(values.token, process.env.BITENVOY_ENROLL_TOKEN), 'token', ENROLL_USAGE),
    dir,
    name: values.name ?? hostname(),
    labels: parseLabels(values.labels ?? ''),
    force: values.force ?? false,
    allow,
    log,
  });
  // The suggestions the agent dropped are the hub's words: printed without control characters, as all remote text.
  const { print } = await import('../output.js');
  print(`enrolled as ${result.name} (${result.agentId})\n${describeAgentYml(result.agentYml, result.hub, describePinned)}start it with: bitenvoy agent run --dir ${result.dir}`);
  return 0;
}

/** `--allow-branches main,release/* --allow-branches hotfix` → `[main, release/*, hotfix]`; an empty entry is a mistake. */
function commaList(option: string, given: string[]): string[] {
  const items = given.flatMap((value) => value.split(',')).map((item) => item.trim());
  if (items.some((item) => item === '')) {
    throw new BitEnvoyError('BE_USAGE', `--${option} ${given.join(' ')}: an empty entry; give a comma-separated list like \`--allow-branches main,release/*\`\nusage: ${ENROLL_USAGE}`);
  }
  return items;
}

function describeAgentYml(outcome: AgentYmlOutcome, hub: string, describePinned: DescribePinned): string {
  if (outcome.written) {
    const dropped = outcome.dropped.length ? `the hub also suggested what this agent never takes from a hub, left out: ${listed(outcome.dropped)}\n` : '';
    return dropped + describePinned(outcome.pinned, outcome.file, hub);
  }
  const suggested = outcome.suggested;
  const hint = suggested.gitBaseUrls?.length || suggested.branches?.length
    ? ` (the hub suggests gitBaseUrls: ${listed(suggested.gitBaseUrls ?? [])}; branches: ${listed(suggested.branches ?? [])})`
    : '';
  return `kept your ${outcome.file}: enrollment never overwrites it; check that it sets allow.gitBaseUrls, allow.branches and allow.instructions${hint}\n`;
}

async function run(args: string[]): Promise<number> {
  const { values } = parseOptions('agent run', args, { dir: { type: 'string' } }, RUN_USAGE);
  if (values.help) {
    process.stdout.write(`usage: ${RUN_USAGE}\n`);
    return 0;
  }
  // Resolved here, once: releases, BITENVOY_RELEASE_DIR and BITENVOY_CURRENT_DIR are then absolute, whatever the
  // steps' working directories are.
  const dir = agentDir(values.dir, RUN_USAGE);
  const log = createLogger({ name: 'bitenvoy-agent' });
  // Refuses to start without a valid agent.yml (the message says what to write), and says out loud which rules
  // left out leave the hub in charge.
  const [{ loadAgentConfig }, { runAgent }] = await Promise.all([import('../../agent/agent-config.js'), import('../../agent/run-agent.js')]);
  for (const warning of (await loadAgentConfig(dir)).warnings) log.warn(warning);
  // The proof `bitenvoy agent upgrade` waits for that this program (this version) started.
  const [{ writeStartMarker }, { version }] = await Promise.all([import('../../agent/service/start-marker.js'), import('../../lib/package-root.js')]);
  await writeStartMarker(dir, version);
  const controller = new AbortController();
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping: the running step (if any) is stopped and reported');
    controller.abort();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await runAgent({ dir, log, signal: controller.signal });
  return 0;
}
