/**
 * Help for every command through the built CLI, as a new user meets it: exit 0, every option with its environment
 * variables, an example; unknown commands and options get exit 2 and the nearest spelling.
 */
import { describe, expect, it } from 'vitest';
import { COMMAND_PATHS, GROUPS, commandSpec } from '../../cli/command-registry.js';
import { version } from '../../lib/package-root.js';
import { runBitenvoy } from './run-bitenvoy.js';

describe('bitenvoy --help', () => {
  it.each(['', '--help', '-h', 'help'])('`bitenvoy %s` exits 0 and lists every command', async (arg) => {
    const { code, stdout, stderr } = await runBitenvoy(arg ? [arg] : []);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (const path of COMMAND_PATHS) expect(stdout).toMatch(new RegExp(`^  ${path} `, 'm'));
  });

  it.each(COMMAND_PATHS)('`bitenvoy %s --help` exits 0 with its options, environment variables and an example', async (path) => {
    const { code, stdout, stderr } = await runBitenvoy([...path.split(' '), '--help']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const spec = commandSpec(path)!;
    const text = stdout.replace(/\s+/g, ' '); // help wraps long lines
    expect(stdout).toContain(`bitenvoy ${path} — ${spec.summary}`);
    for (const [name, option] of Object.entries(spec.options)) {
      expect(stdout).toContain(`--${name}`);
      for (const variable of option.env ?? []) expect(text).toContain(variable);
      if (option.default) expect(text).toContain(`default: ${option.default}`);
    }
    for (const variable of spec.environment ?? []) expect(text).toContain(variable.name);
    expect(stdout).toMatch(/^Examples?:\n {2}\S/m);
    // `bitenvoy help <command>` is the same page.
    expect((await runBitenvoy(['help', ...path.split(' ')])).stdout).toBe(stdout);
  });

  it.each(Object.keys(GROUPS))('`bitenvoy %s --help` exits 0 and lists its commands', async (group) => {
    const { code, stdout, stderr } = await runBitenvoy([...group.split(' '), '--help']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (const path of COMMAND_PATHS.filter((p) => p.startsWith(`${group} `))) expect(stdout).toContain(`bitenvoy ${path}`);
  });

  it('`bitenvoy hub --help` lists the hub settings, from the same table the hub reads', async () => {
    const { HUB_VARIABLES } = await import('../../app/hub-settings.js');
    const { stdout } = await runBitenvoy(['hub', '--help']);
    for (const [name] of HUB_VARIABLES) expect(stdout).toContain(name);
    expect(stdout).toContain('BITENVOY_LOG_FORMAT');
  });
});

describe('usage mistakes', () => {
  it.each([
    [['deplyo'], /unknown command `deplyo`; did you mean `bitenvoy deploy`\?/],
    [['agnet', 'run'], /unknown command `agnet`; did you mean `bitenvoy agent`\?/],
    [['agent', 'enrol'], /unknown `bitenvoy agent` command `enrol`; did you mean `bitenvoy agent enroll`\?/],
    [['hub', 'tokens', 'create'], /unknown `bitenvoy hub` command `tokens`; did you mean `bitenvoy hub token`\?/],
    [['help', 'agent', 'rnu'], /unknown `bitenvoy agent` command `rnu`; did you mean `bitenvoy agent run`\?/],
    [['deploy', '--repo', 'acme/shop'], /deploy: unknown option `--repo`; did you mean `--repository`\?\nusage: bitenvoy deploy --repository OWNER\/NAME/],
    [['audit', '--limt', '3'], /audit: unknown option `--limt`; did you mean `--limit`\?/],
    [['agent'], /`bitenvoy agent` needs a command: enroll or run/],
    [['frobnicate'], /unknown command `frobnicate`; the commands are: hub, agent, validate, deploy/],
  ])('`bitenvoy %j` exits 2 and says what was meant', async (args, message) => {
    const { code, stdout, stderr } = await runBitenvoy(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
  });
});

describe('version', () => {
  it.each(['-v', '--version', 'version'])('`bitenvoy %s` prints the version', async (arg) => {
    expect(await runBitenvoy([arg])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});
