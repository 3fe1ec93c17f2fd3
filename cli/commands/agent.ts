import { hostname } from 'node:os';
import { BitEnvoyError } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';
import { enrollAgent, parseLabels } from '../../agent/enroll-agent.js';
import { runAgent } from '../../agent/run-agent.js';
import { synopsis } from '../command-registry.js';
import { firstOf, parseOptions, required } from './parse-options.js';

// Help and usage lines come from the command registry (cli/command-registry.ts): a new option needs its line there.
const ENROLL_USAGE = synopsis('agent enroll');
const RUN_USAGE = synopsis('agent run');

/** `bitenvoy agent enroll …` and `bitenvoy agent run …`. */
export async function agentCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'enroll') return enroll(rest);
  if (sub === 'run') return run(rest);
  throw new BitEnvoyError('BE_USAGE', `unknown \`agent\` command \`${sub ?? ''}\`\nusage: ${ENROLL_USAGE}\n       ${RUN_USAGE}`);
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
    },
    ENROLL_USAGE,
  );
  if (values.help) {
    process.stdout.write(`usage: ${ENROLL_USAGE}\n`);
    return 0;
  }
  const log = createLogger({ name: 'bitenvoy-agent', destination: process.stderr });
  const result = await enrollAgent({
    hub: required(firstOf(values.hub, process.env.BITENVOY_HUB_URL), 'hub', ENROLL_USAGE),
    token: required(firstOf(values.token, process.env.BITENVOY_ENROLL_TOKEN), 'token', ENROLL_USAGE),
    dir: required(firstOf(values.dir, process.env.BITENVOY_AGENT_DIR), 'dir', ENROLL_USAGE),
    name: values.name ?? hostname(),
    labels: parseLabels(values.labels ?? ''),
    force: values.force ?? false,
    log,
  });
  process.stdout.write(`enrolled as ${result.name} (${result.agentId}); start it with: bitenvoy agent run --dir ${result.dir}\n`);
  return 0;
}

async function run(args: string[]): Promise<number> {
  const { values } = parseOptions('agent run', args, { dir: { type: 'string' } }, RUN_USAGE);
  if (values.help) {
    process.stdout.write(`usage: ${RUN_USAGE}\n`);
    return 0;
  }
  const dir = required(firstOf(values.dir, process.env.BITENVOY_AGENT_DIR), 'dir', RUN_USAGE);
  const log = createLogger({ name: 'bitenvoy-agent' });
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
