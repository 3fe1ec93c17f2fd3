import { print } from '../output.js';
import { parseCommand } from './parse-options.js';

/** `bitenvoy demo` (also `npm run demo`): a whole deployment on this machine; exit 0 only when it succeeded. */
export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseCommand('demo', args);
  // The testbed is loaded only now; it must load nothing from devDependencies (an installed package has none).
  const { runDemo } = await import('../../testbed/run-demo.js');
  const ok = await runDemo({ keep: values.keep ?? false, verbose: values.verbose ?? false, print });
  return ok ? 0 : 1;
}
