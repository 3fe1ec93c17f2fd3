/**
 * The command a service starts the agent with: the running program's own, with absolute paths. A self-contained
 * agent executable (a Node single executable application) is `<exe> agent run --dir DIR`; BitEnvoy installed with
 * npm is `<node> <…/dist/cli/bitenvoy.js> agent run --dir DIR`.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * True when this program is a single executable application (the released `bitenvoy-agent-*` files), false when it
 * is Node running BitEnvoy's scripts.
 *
 * @example
 * if (!isAgentExecutable()) console.log('installed with npm: upgrade with npm install -g bitenvoy@VERSION');
 */
export function isAgentExecutable(): boolean {
  try {
    const sea = createRequire(import.meta.url)('node:sea') as { isSea(): boolean };
    return sea.isSea();
  } catch {
    return false;
  }
}

/**
 * `[program…, 'agent', 'run', '--dir', dir]` for the running program.
 *
 * @example
 * agentRunCommand('/var/lib/bitenvoy-agent'); // ['/usr/bin/node', '/usr/lib/node_modules/bitenvoy/dist/cli/bitenvoy.js', 'agent', 'run', '--dir', '/var/lib/bitenvoy-agent']
 */
export function agentRunCommand(dir: string): string[] {
  const program = isAgentExecutable() ? [process.execPath] : [realpathSync(process.execPath), realpathSync(process.argv[1] ?? '')];
  return [...program, 'agent', 'run', '--dir', dir];
}
