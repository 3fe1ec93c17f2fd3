/**
 * `bitenvoy` — the one command line for the hub, the agent and the people who operate them, loaded by the entry
 * (`bitenvoy.ts`) once it has made sure the Node version is right.
 * Which command runs, and every help page, comes from the command registry (`command-registry.ts`).
 * Every error ends here: BitEnvoyErrors print their message (and exit 1, or 2 for usage mistakes); anything else
 * prints a short line and exits 1.
 */
import { BitEnvoyError } from '../lib/errors.js';
import { version } from '../lib/package-root.js';
import type { CommandFunction } from './command-loaders.js';
import { resolveCommand } from './resolve-command.js';

async function main(argv: string[], loaders: Readonly<Record<string, () => Promise<CommandFunction>>>): Promise<number> {
  const command = resolveCommand(argv);
  // Help is loaded only to be shown: an agent on a small server runs without it.
  switch (command.kind) {
    case 'overview':
      process.stdout.write((await import('./render-help.js')).renderOverview());
      return 0;
    case 'version':
      process.stdout.write(`${version}\n`);
      return 0;
    case 'help': {
      const { renderHelp, renderOverview } = await import('./render-help.js');
      process.stdout.write((await renderHelp(command.path)) ?? renderOverview());
      return 0;
    }
    case 'run': {
      const load = loaders[command.top];
      if (!load) throw new BitEnvoyError('BE_INTERNAL', `no module for \`bitenvoy ${command.top}\``);
      return (await load())(command.args);
    }
  }
}

/**
 * Runs the command `argv` names with the modules `loaders` offers: every command for `bitenvoy`, the agent's alone
 * for the agent executable (which then bundles nothing else).
 */
export function runCli(argv: string[], loaders: Readonly<Record<string, () => Promise<CommandFunction>>>): void {
  main(argv, loaders).then(
    (code) => {
      process.exitCode = code;
    },
    async (err: unknown) => {
      // The message may carry the hub's (or an agent's) words: no control characters reach the terminal.
      const { printError } = await import('./output.js');
      if (err instanceof BitEnvoyError) {
        printError(`bitenvoy: ${err.message}`);
        process.exitCode = err.code === 'BE_USAGE' ? 2 : 1;
      } else {
        printError(`bitenvoy: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        process.exitCode = 1;
      }
    },
  );
}
