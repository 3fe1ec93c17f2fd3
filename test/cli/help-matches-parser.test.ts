/**
 * Help can never drift from what is parsed: for every command, the options its code hands to `util.parseArgs` are
 * exactly the options its `--help` lists. The command functions run for real up to their parse, where a stand-in
 * for `parseArgs` records the options and stops them.
 */
import type * as Util from 'node:util';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { COMMAND_LOADERS } from '../../cli/command-loaders.js';
import { COMMAND_PATHS } from '../../cli/command-registry.js';
import { renderHelp } from '../../cli/render-help.js';

const parsed = vi.hoisted(() => ({ options: undefined as string[] | undefined, stop: new Error('stopped after parsing') }));

vi.mock('node:util', async (importOriginal) => {
  const util = await importOriginal<typeof Util>();
  return {
    ...util,
    parseArgs: (config: { options?: Record<string, unknown> }) => {
      parsed.options = Object.keys(config.options ?? {});
      throw parsed.stop;
    },
  };
});

/** The long options the help page lists, from its Options section. */
async function optionsInHelp(path: string): Promise<string[]> {
  const help = (await renderHelp(path))!;
  const section = help.slice(help.indexOf('\nOptions:\n'), help.indexOf('\n\n', help.indexOf('\nOptions:\n') + 1));
  return [...section.matchAll(/^ {2}(?:-\w, | {4})--([a-z][a-z-]*)/gm)].map((m) => m[1]!).sort();
}

// `version` and `help` are answered before any command module loads, and take no option.
const runnable = COMMAND_PATHS.filter((path) => path !== 'version' && path !== 'help');

describe('every option a command parses is in its help, and nothing else', () => {
  beforeEach(() => {
    parsed.options = undefined;
  });

  it.each(runnable)('bitenvoy %s', async (path) => {
    const [top, ...sub] = path.split(' ');
    const command = await COMMAND_LOADERS[top!]!();
    await expect(command(sub)).rejects.toThrow(parsed.stop.message);
    expect(parsed.options?.sort()).toEqual(await optionsInHelp(path));
  });

  it('every top-level command has a module, and every module a registry entry', () => {
    const tops = new Set(runnable.map((p) => p.split(' ')[0]!));
    expect(Object.keys(COMMAND_LOADERS).sort()).toEqual([...tops].sort());
  });
});
