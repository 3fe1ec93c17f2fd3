/**
 * The agent's bundle holds the agent and what it needs, never the hub: the `@bitenvoy/agent` package and the
 * executables are made from it.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentArgv } from '../../cli/bitenvoy-agent.js';
import { packageRoot } from '../../lib/package-root.js';
import { bundleAgent, HUB_ONLY_PACKAGES, WARM_IMPORTS, type AgentBundle } from '../../packaging/bundle-agent.js';
import { startWorld } from '../../testbed/world.js';

const run = promisify(execFile);

describe('the agent bundle', () => {
  let dir: string;
  let bundle: AgentBundle;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitenvoy-bundle-'));
    bundle = await bundleAgent({ outFile: join(dir, 'bitenvoy-agent.cjs') });
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('holds the agent and none of the hub', () => {
    expect(bundle.inputs).toContain('agent/run-agent.ts');
    expect(bundle.inputs).toContain('agent/run-job.ts');
    const hubCode = bundle.inputs.filter((i) => i.startsWith('app/'));
    expect(hubCode).toEqual([]);
    const packages = bundle.inputs.filter((i) => i.startsWith('node_modules/')).map((i) => i.split('/').slice(1, 3).join('/'));
    for (const hubOnly of HUB_ONLY_PACKAGES) expect(packages.filter((p) => p === hubOnly || p.startsWith(hubOnly.endsWith('/') ? hubOnly : `${hubOnly}/`))).toEqual([]);
    // What pino loads and the agent never uses is replaced by the little it needs (about 3 MB of Node's modules).
    expect(bundle.inputs.filter((i) => i.startsWith('lean:')).sort()).toEqual([
      'lean:assert (for sonic-boom/index.js)',
      'lean:thread-stream (for pino/lib/transport.js)',
      'lean:worker_threads (for pino/lib/tools.js)',
    ]);
    expect(bundle.inputs.filter((i) => i.startsWith('node_modules/thread-stream/'))).toEqual([]);
    // What the hub's help would load is a module that says why it is not there.
    expect(bundle.inputs.filter((i) => i.startsWith('hub-only:'))).toEqual(['hub-only:app/cloud/cloud-settings.js', 'hub-only:app/hub-settings.js']);
  });

  it('keeps in its main file only what an idle agent runs; the rest is in the lazy file, never bundled twice', async () => {
    expect(bundle.mainInputs).toEqual(expect.arrayContaining(['agent/run-agent.ts', 'agent/hub-client.ts', 'lib/errors.ts', 'cli/commands/agent.ts']));
    // Each warm import names a module that is there (a renamed one would quietly move `agent run` to the lazy file).
    expect(WARM_IMPORTS.filter((m) => !bundle.mainInputs.includes(m))).toEqual([]);
    for (const cold of ['agent/run-job.ts', 'agent/enroll-agent.ts', 'cli/render-help.ts', 'node_modules/ajv/', 'node_modules/yaml/', 'node_modules/@sigstore/', 'node_modules/simple-git/']) {
      expect(bundle.mainInputs.filter((i) => i.startsWith(cold))).toEqual([]);
      expect(bundle.lazyInputs.some((i) => i.startsWith(cold))).toBe(true);
    }
    expect(bundle.lazyInputs.filter((i) => bundle.mainInputs.includes(i))).toEqual([]);
    expect(bundle.bytes).toBeLessThan(bundle.lazyBytes / 2);
    // ASCII only: V8 holds a script with any other character at two bytes a character.
    for (const file of [bundle.file, bundle.lazyFile]) expect([...(await readFile(file))].filter((byte) => byte > 0x7f)).toEqual([]);
  });

  it("requires nothing at run time but Node's own modules (a bundle holds only what is imported)", async () => {
    const sources = bundle.inputs.filter((i) => /^(agent|lib|cli|config-schema|packaging)\/.*\.ts$/.test(i));
    const runtimeRequires: string[] = [];
    for (const file of sources) {
      for (const m of (await readFile(join(packageRoot(), file), 'utf8')).matchAll(/require\w*\([^)]*\)\(\s*['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]/gi)) {
        const name = m[1] ?? m[2]!;
        if (!name.startsWith('node:')) runtimeRequires.push(`${file}: ${name}`);
      }
    }
    expect(runtimeRequires).toEqual([]);
  });

  it('runs on Node as `bitenvoy-agent`', async () => {
    const { stdout } = await run(process.execPath, [bundle.file, '--version']);
    expect(stdout.trim()).toBe((await import('../../package.json', { with: { type: 'json' } })).default.version);
    // The help is in the lazy file, beside the main one.
    const help = await run(process.execPath, [bundle.file, 'enroll', '--help']);
    expect(help.stdout).toContain('--allow-git-base-url');
    // An error made in the lazy file is the main file's BitEnvoyError (one instance of lib/errors.ts): a usage error
    // (exit 2, its message), not an unexpected one (exit 1, a stack).
    const bad = await run(process.execPath, [bundle.file, 'enroll', '--hub', 'http://127.0.0.1:9', '--token', 't', '--dir', join(dir, 'agent'), '--labels', 'no label']).catch((err: { code: number; stderr: string }) => err);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/^bitenvoy: --labels: `no label` is not a label/) });
  });

  it('stops at once, saying what to do, when its lazy file is not beside it', async () => {
    const alone = join(dir, 'alone');
    await mkdir(alone);
    await copyFile(bundle.file, join(alone, 'bitenvoy-agent.cjs'));
    const failed = await run(process.execPath, [join(alone, 'bitenvoy-agent.cjs'), '--version']).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining(`${join(alone, 'bitenvoy-agent-lazy.cjs')} is missing: the agent is two files that belong together; install @bitenvoy/agent again`) });
  });

  it("deploys the sample application as the npm package (the job's code read from the lazy file beside it)", async () => {
    const world = await startWorld({ agents: 1, agentProgram: { command: [process.execPath, bundle.file], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } } });
    try {
      const { deployment } = await world.deploy();
      const view = await world.waitForDeployment(deployment.id, 120_000);
      expect(view.deployment.state, JSON.stringify(view.jobs.map((j) => j.message ?? j.logTail))).toBe('success');
      expect(world.agents[0]!.process.child.spawnargs).toContain(bundle.file);
    } finally {
      await world.close();
    }
  }, 180_000);

  it('stops the build at an import of hub code, naming the chain', async () => {
    const entry = join(packageRoot(), 'packaging', `bad-entry-${process.pid}.ts`);
    await writeFile(entry, "import { startHub } from '../app/hub.js';\nconsole.log(startHub);\n");
    try {
      await expect(bundleAgent({ outFile: join(dir, 'bad.cjs'), entry })).rejects.toThrow(/the agent imports hub code: packaging\/bad-entry-\d+\.ts → app\/hub\.js; move what the agent needs to lib\//);
    } finally {
      await rm(entry, { force: true });
    }
  });
});

it('the @bitenvoy/agent package has the version of the whole, and no dependencies (everything is in its bundle)', async () => {
  const root = JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { version: string; workspaces: string[] };
  const agent = JSON.parse(await readFile(join(packageRoot(), 'packages', 'agent', 'package.json'), 'utf8')) as Record<string, unknown>;
  expect(agent.version).toBe(root.version);
  expect(root.workspaces).toContain('packages/*');
  expect(agent.dependencies).toBeUndefined();
  expect(agent.bin).toEqual({ 'bitenvoy-agent': 'dist/bitenvoy-agent.cjs' });
});

describe('agentArgv', () => {
  it('puts `agent` in front of what the agent executable is given, unless it is there or the version is asked', () => {
    expect(agentArgv(['run', '--dir', 'x'])).toEqual(['agent', 'run', '--dir', 'x']);
    expect(agentArgv(['agent', 'run', '--dir', 'x'])).toEqual(['agent', 'run', '--dir', 'x']);
    expect(agentArgv(['--version'])).toEqual(['--version']);
    expect(agentArgv([])).toEqual(['agent']);
    expect(agentArgv(['--help'])).toEqual(['agent', '--help']);
  });
});
