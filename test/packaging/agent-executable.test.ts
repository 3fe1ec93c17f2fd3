/**
 * The self-contained agent executable, as a server owner gets it: built by `npm run package`'s code for this
 * platform, started with a PATH that has no `node` on it and an environment of its own, it enrolls, runs, and deploys
 * the sample application; its SHA256SUMS line is what `sha256sum -c` accepts.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTarget, packageAgent, type PackageResult } from '../../packaging/package-agent.js';
import { sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const run = promisify(execFile);
const target = hostTarget();

/** A folder of links to everything in /usr/bin and /bin but Node and npm: what a server without Node has on PATH. */
async function pathWithoutNode(root: string): Promise<string> {
  const bin = join(root, 'bin');
  await mkdir(bin);
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin']) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (/^(node|nodejs|npm|npx|corepack)$/.test(name)) continue;
      await symlink(join(dir, name), join(bin, name)).catch(() => undefined); // the first folder's wins
    }
  }
  return bin;
}

describe.skipIf(!target)('the agent executable', () => {
  let root: string;
  let built: PackageResult;
  let world: World | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bitenvoy-exe-'));
    built = await packageAgent({ outDir: join(root, 'release'), targets: [target!] });
    env = { PATH: await pathWithoutNode(root), HOME: root };
  }, 180_000);

  afterAll(async () => {
    await world?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('is listed in SHA256SUMS as sha256sum checks it', async () => {
    const { stdout } = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(root, 'release') });
    expect(stdout.trim()).toBe(`bitenvoy-agent-${target}: OK`);
  });

  it('runs without Node on PATH: version, help, and a clear error for a directory not enrolled', async () => {
    const exe = built.executables[0]!.file;
    await expect(run('sh', ['-c', 'command -v node'], { env })).rejects.toThrow();
    expect((await run(exe, ['--version'], { env })).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await run(exe, ['--help'], { env })).stdout).toContain('bitenvoy agent run --dir DIR');
    const notEnrolled = run(exe, ['run', '--dir', join(root, 'nothing-here')], { env });
    await expect(notEnrolled).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('this agent is not enrolled') });
    // The hub's commands are not in it.
    await expect(run(exe, ['hub'], { env })).rejects.toMatchObject({ stderr: expect.stringContaining('unknown `bitenvoy agent` command `hub`') });
  });

  it('enrolls, runs and deploys the sample application', async () => {
    const exe = built.executables[0]!.file;
    const files = sampleAppFiles('1');
    // The steps see the agent's PATH: a step that finds a Node fails the deployment.
    files['bitenvoy.yml'] = String(files['bitenvoy.yml']).replace('steps:\n', 'steps:\n  - name: no node here\n    run: if command -v node; then echo "node found" >&2; exit 1; fi\n');
    world = await startWorld({ agents: 1, agentProgram: { command: [exe], env }, appFiles: files });
    expect(world.agents[0]!.process.child.spawnfile).toBe(exe);
    const { deployment } = await world.deploy();
    const view = await world.waitForDeployment(deployment.id, 90_000);
    expect(view.deployment.state, JSON.stringify(view.jobs.map((j) => j.message ?? j.state))).toBe('success');
    expect(view.jobs[0]!.events?.filter((e) => e.type === 'step' && e.status === 'succeeded').length).toBe(4);
  }, 150_000);
});
