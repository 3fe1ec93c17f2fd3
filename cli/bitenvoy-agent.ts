/**
 * The entry of the agent on its own — the `@bitenvoy/agent` package and the self-contained executables built by
 * `npm run package`. It is `bitenvoy agent` and nothing else: `bitenvoy-agent run --dir DIR` is `bitenvoy agent run
 * --dir DIR` (and `bitenvoy-agent agent run …`, as a service unit may write it, works too). Only the agent's command
 * module is offered to the command line, so a bundle made from this file holds none of the hub's code.
 *
 * @example
 * // bitenvoy-agent enroll --hub https://bitenvoy.example.com --token T --dir /var/lib/bitenvoy-agent
 * // bitenvoy-agent --version
 */
import { runCli } from './main.js';
import type { CommandFunction } from './command-loaders.js';

const AGENT_LOADERS: Readonly<Record<string, () => Promise<CommandFunction>>> = {
  agent: async () => (await import('./commands/agent.js')).agentCommand,
};

/**
 * The `bitenvoy` words for what was typed to the agent executable: `agent` goes in front unless it is there already
 * or only the version is asked for.
 *
 * @example
 * agentArgv(['run', '--dir', 'x']); // ['agent', 'run', '--dir', 'x']
 * agentArgv(['--version']); // ['--version']
 */
export function agentArgv(argv: readonly string[]): string[] {
  const [first] = argv;
  if (first === 'agent' || first === '--version' || first === '-v' || first === 'version') return [...argv];
  return ['agent', ...argv];
}

/** Runs the agent's command line with `argv` (the words after the program's name). */
export function runAgentCli(argv: readonly string[]): void {
  runCli(agentArgv(argv), AGENT_LOADERS);
}
