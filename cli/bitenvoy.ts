#!/usr/bin/env node
/**
 * `bitenvoy` — the one command line for the hub, the agent and the people who operate them.
 * Which command runs, and every help page, comes from the command registry (`command-registry.ts`).
 * Every error ends here: BitEnvoyErrors print their message (and exit 1, or 2 for usage mistakes); anything else
 * prints a short line and exits 1.
 */
import { BitEnvoyError } from '../lib/errors.js';
import { version } from '../lib/package-root.js';
import { COMMAND_LOADERS } from './command-loaders.js';
import { print, printError } from './output.js';
import { renderHelp, renderOverview } from './render-help.js';
import { resolveCommand } from './resolve-command.js';

async function main(argv: string[]): Promise<number> {
  const command = resolveCommand(argv);
  switch (command.kind) {
    case 'overview':
      process.stdout.write(renderOverview());
      return 0;
    case 'version':
      print(version);
      return 0;
    case 'help':
      process.stdout.write((await renderHelp(command.path)) ?? renderOverview());
      return 0;
    case 'run': {
      const load = COMMAND_LOADERS[command.top];
      if (!load) throw new BitEnvoyError('BE_INTERNAL', `no module for \`bitenvoy ${command.top}\``);
      return (await load())(command.args);
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof BitEnvoyError) {
      // The message may carry the hub's (or an agent's) words: no control characters reach the terminal.
      printError(`bitenvoy: ${err.message}`);
      process.exitCode = err.code === 'BE_USAGE' ? 2 : 1;
    } else {
      printError(`bitenvoy: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  },
);
