/**
 * The self-contained agent executable, as a server owner gets it: built by `npm run package`'s code for this
 * platform, started with a PATH that has no `node` on it and an environment of its own, it enrolls, runs, and deploys
 * the sample application with its steps run as agent.yml's `runAs` user (who cannot read the agent's credential);
 * its SHA256SUMS line is what `sha256sum -c` accepts.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTarget, packageAgent, type PackageResult } from '../../packaging/package-agent.js';
import { sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const run = promisify(execFile);
const STEP_USER = `be-exe-${Math.random().toString(36).slice(2, 8)}`;
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
    // The PATH folder below is every user's, as /usr/bin is: the runAs step user must reach it.
    await chmod(root, 0o711);
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
    const version = await run(exe, ['--version'], { env });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // Nothing on stderr: V8 took the code cache made with the executable's own flags (lite mode), no warning that it
    // rejected it.
    expect(version.stderr).toBe('');
    expect((await run(exe, ['--help'], { env })).stdout).toContain('bitenvoy agent run --dir DIR');
    // A command's help is in the lazy file, an asset of the executable.
    expect((await run(exe, ['enroll', '--help'], { env })).stdout).toContain('--allow-git-base-url');
    const notEnrolled = run(exe, ['run', '--dir', join(root, 'nothing-here')], { env });
    await expect(notEnrolled).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('this agent is not enrolled') });
    // The hub's commands are not in it.
    await expect(run(exe, ['hub'], { env })).rejects.toMatchObject({ stderr: expect.stringContaining('unknown `bitenvoy agent` command `hub`') });
  });

  it('enrolls, runs and deploys the sample application, its steps as agent.yml\'s runAs user (as root: it creates one)', async () => {
    const exe = built.executables[0]!.file;
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', STEP_USER]);
    const files = sampleAppFiles('1');
    // The steps see the agent's PATH: a step that finds a Node fails the deployment. And they run as STEP_USER.
    const fenced = `  - name: fenced\n    run: |\n      if command -v node; then echo "node found" >&2; exit 1; fi\n      echo "running as $(id -un)"\n      cat "$BITENVOY_RELEASE_DIR/../../../../../../agent.json" || echo "agent.json refused"\n`;
    files['bitenvoy.yml'] = String(files['bitenvoy.yml']).replace('steps:\n', `steps:\n${fenced}`);
    try {
      world = await startWorld({ agents: 1, agentProgram: { command: [exe], env }, appFiles: files, agentFiles: (): Record<string, string> => (asRoot ? { 'agent.yml': `runAs: ${STEP_USER}\n` } : {}) });
      // mkdtemp made the world's folder 0700: the step user reaches its release by its absolute path.
      for (const dir of [world.root, join(world.root, 'agents')]) await chmod(dir, 0o711);
      expect(world.agents[0]!.process.child.spawnfile).toBe(exe);
      const { deployment } = await world.deploy();
      const view = await world.waitForDeployment(deployment.id, 90_000);
      expect(view.deployment.state, JSON.stringify(view.jobs.map((j) => j.message ?? j.logTail))).toBe('success');
      expect(view.jobs[0]!.events?.filter((e) => e.type === 'step' && e.status === 'succeeded').length).toBe(4);
      const log = view.jobs[0]!.logTail.join('\n');
      if (asRoot) {
        expect(log).toContain(`running as ${STEP_USER}`);
        expect(log).toMatch(/agent\.json: Permission denied/);
        expect(log).not.toContain('"credential"');
      }
    } finally {
      if (asRoot) execFileSync('userdel', [STEP_USER], { stdio: 'ignore' });
    }
  }, 150_000);
});
