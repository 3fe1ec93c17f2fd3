#!/usr/bin/env node
/**
 * `bitenvoy` — the one command line for the hub, the agent and the people who operate them.
 * Every error ends here: BitEnvoyErrors print their message (and exit 1, or 2 for usage mistakes); anything else
 * prints a short line and exits 1.
 */
import { BitEnvoyError } from '../lib/errors.js';
import { version } from '../lib/package-root.js';

export const USAGE = `bitenvoy ${version} — pull-based deployments

Usage:
  bitenvoy hub                                   start the hub (settings from PORT, HOST, BITENVOY_* …)
  bitenvoy hub token create [--ttl 1h] [--data-dir DIR]
                                                 mint a one-time agent enrollment token
  bitenvoy agent enroll --hub URL --token TOKEN --dir DIR [--name NAME] [--labels k=v,…] [--force]
                                                 enroll this server once; keeps its credential in DIR
  bitenvoy agent run --dir DIR                   run the agent (long-polls the hub for jobs)
  bitenvoy validate [DIR]                        check a config repo checkout, or a bitenvoy.yml
  bitenvoy deploy --repository OWNER/NAME --ref REF --environment ENV [--hub URL] [--token T] [--no-wait]
                                                 deploy a ref through the hub's API and follow it
  bitenvoy agents [--hub URL] [--token T]        list enrolled agents, with their verified cloud facts
  bitenvoy agents unbind NAME                    forget an agent's cloud binding (after checking a quarantined server)
  bitenvoy cancel DEPLOYMENT_ID [--by NAME]      stop a rollout: running steps get SIGTERM, then SIGKILL
  bitenvoy plan --repository OWNER/NAME --environment ENV [--config DIR] [--agents FILE.json]
                                                 show a rollout's batches in order; creates nothing
  bitenvoy audit [--repository OWNER/NAME] [--limit N] [--format text|json|jsonl]
                                                 export the audit log (deploys, rollbacks, locks, refusals)
  bitenvoy demo [--keep]                         a whole deployment on this machine, end to end
  bitenvoy version

Run \`bitenvoy <command> --help\` for a command's options.`;

// Loaded on demand: an agent on a small server must not pay for the hub's modules (Probot, Koa, the store).
const commands: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  hub: async () => (await import('./commands/hub.js')).hubCommand,
  agent: async () => (await import('./commands/agent.js')).agentCommand,
  validate: async () => (await import('./commands/validate.js')).validateCommand,
  deploy: async () => (await import('./commands/deploy.js')).deployCommand,
  agents: async () => (await import('./commands/agents.js')).agentsCommand,
  audit: async () => (await import('./commands/audit.js')).auditCommand,
  cancel: async () => (await import('./commands/cancel.js')).cancelCommand,
  plan: async () => (await import('./commands/plan.js')).planCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 2;
  }
  if (name === 'version' || name === '--version') {
    process.stdout.write(version + '\n');
    return 0;
  }
  const load = commands[name];
  if (!load) throw new BitEnvoyError('BE_USAGE', `unknown command \`${name}\`; the commands are: ${Object.keys(commands).join(', ')}, version`);
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof BitEnvoyError) {
      process.stderr.write(`bitenvoy: ${err.message}\n`);
      process.exitCode = err.code === 'BE_USAGE' ? 2 : 1;
    } else {
      process.stderr.write(`bitenvoy: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
