import { runDemo } from '../../testbed/run-demo.js';
import { parseOptions } from './parse-options.js';

const USAGE = 'bitenvoy demo [--keep] [--verbose]';

/** `bitenvoy demo` (also `npm run demo`): a whole deployment on this machine; exit 0 only when it succeeded. */
export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseOptions('demo', args, { keep: { type: 'boolean' }, verbose: { type: 'boolean' } }, USAGE);
  if (values.help) {
    process.stdout.write(`usage: ${USAGE}\n  --keep     leave the git server, hub and agents running (Ctrl-C stops them)\n  --verbose  show the hub's and agents' own logs\n`);
    return 0;
  }
  const ok = await runDemo({ keep: values.keep ?? false, verbose: values.verbose ?? false, print: (line) => process.stdout.write(line + '\n') });
  return ok ? 0 : 1;
}
