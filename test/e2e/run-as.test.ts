/**
 * Steps run as agent.yml's `runAs` user, fenced off the agent's files, through real processes: a hub, two agents (one
 * as root, one as an unprivileged user holding only the capabilities the systemd unit gives it) and real Linux users.
 * The deployed commit's step tries to read the agent's credential, rules and secrets and another application's
 * release: each read fails with "Permission denied", which the deployment's log (read through the hub's API) shows;
 * the step still writes in its own release and gets its secret through its environment, and holds no capability.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fenceRelease } from '../../agent/run-as/private-modes.js';
import { releasePaths } from '../../agent/releases.js';
import { pushCommit } from '../../testbed/git-repos.js';
import { cliPath, type ManagedProcess } from '../../testbed/processes.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY, sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const E2E_TIMEOUT = 120_000;
const isRoot = process.getuid?.() === 0;
const suffix = Math.random().toString(36).slice(2, 8);
const SHOP = `be-shop-${suffix}`;
const OTHER = `be-other-${suffix}`;
const AGENT = `be-agent-${suffix}`;
const SECRET = 'postgres://shop:hunter2@db/shop';

function ids(name: string): { uid: number; gid: number } {
  const [uid, gid] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':').slice(2, 4).map(Number);
  return { uid: uid!, gid: gid! };
}

const FENCED_STEP = `version: 1
steps:
  - name: fenced
    env:
      DB_URL: \${{ secrets.DB_URL }}
    run: |
      D=$(cd "$BITENVOY_RELEASE_DIR/../../../../../.." && pwd)
      echo "running as $(id -un) HOME=$HOME USER=$USER LOGNAME=$LOGNAME"
      grep Cap /proc/self/status
      for f in agent.json agent.yml secrets.yml; do if cat "$D/$f"; then echo "LEAKED $f"; fi; done
      if ls "$D"; then echo "LEAKED the agent directory listing"; fi
      if ls "$D/apps/other/app/${SAMPLE_ENVIRONMENT}/releases/r1"; then echo "LEAKED another application's release"; fi
      if cat "$D/apps/other/app/${SAMPLE_ENVIRONMENT}/releases/r1/config.txt"; then echo "LEAKED another application's file"; fi
      echo "made by the step" > written-by-step
      [ "$DB_URL" = "${SECRET}" ] && echo "the secret arrived through the environment"
`;

/** Starts the agent of `dir` as `user`, holding only the capabilities the systemd unit gives a runAs agent. */
function startCappedAgent(dir: string, user: string): ManagedProcess {
  const caps = '+setuid,+setgid,+chown,+fowner,+dac_override,+kill';
  const child = spawn('setpriv', [`--reuid=${user}`, `--regid=${user}`, '--init-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, '--', process.execPath, cliPath(), 'agent', 'run', '--dir', dir], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return { name: 'capped', child, output: () => out, exited, stop, kill: stop };
}

describe.skipIf(!isRoot)('steps run as agent.yml runAs, fenced off the agent (needs root: it creates users)', () => {
  let world: World;
  let capped: ManagedProcess | undefined;
  beforeAll(async () => {
    for (const name of [SHOP, OTHER, AGENT]) execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
    world = await startWorld({
      agents: 2,
      appFiles: { ...sampleAppFiles('1'), 'bitenvoy.yml': FENCED_STEP },
      agentFiles: () => ({
        'agent.yml': `runAs: ${SHOP}\nperRepository:\n  other/*: { runAs: ${OTHER} }\n`,
        'secrets.yml': `DB_URL: ${SECRET}\n`,
      }),
    });
    // mkdtemp made the world's folder 0700: a step user must be able to reach its release by its absolute path.
    for (const dir of [world.root, join(world.root, 'agents')]) await chmod(dir, 0o711);
    // Another application on both servers, fenced for its own user as the agent does it.
    for (const agent of world.agents) {
      const paths = releasePaths(agent.dir, 'other/app', SAMPLE_ENVIRONMENT, 'r1');
      await mkdir(paths.release, { recursive: true });
      await writeFile(join(paths.release, 'config.txt'), 'other application\n');
      await fenceRelease(paths, ids(OTHER));
    }
    // The second agent runs as an unprivileged user that owns its directory, as the systemd unit sets it up.
    await world.agents[1]!.process.stop(3000);
    execFileSync('chown', ['-R', `${AGENT}:${AGENT}`, world.agents[1]!.dir]);
    capped = startCappedAgent(world.agents[1]!.dir, AGENT);
    world.agents[1]!.process = capped;
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
    for (const name of [SHOP, OTHER, AGENT]) execFileSync('userdel', [name], { stdio: 'ignore' });
  });

  it(
    'a step cannot read agent.json, agent.yml, secrets.yml or another application\'s release; the log says Permission denied',
    async () => {
      const { deployment } = await world.deploy();
      const view = await world.waitForDeployment(deployment.id);
      expect(view.jobs.map((j) => j.state), JSON.stringify(view.jobs.map((j) => j.logTail))).toEqual(['succeeded', 'succeeded']);
      const shop = ids(SHOP);
      for (const [i, job] of view.jobs.entries()) {
        const log = job.logTail.join('\n');
        expect(log).not.toContain('LEAKED');
        expect(log).toContain(`running as ${SHOP} HOME=/home/${SHOP} USER=${SHOP} LOGNAME=${SHOP}`);
        for (const file of ['agent.json', 'agent.yml', 'secrets.yml']) expect(log).toMatch(new RegExp(`cat: \\S+/${file.replace('.', '\\.')}: Permission denied`));
        expect(log).toMatch(/ls: cannot open directory '\S+': Permission denied/);
        expect(log).toMatch(/other\/app\/staging\/releases\/r1'?: Permission denied/);
        expect(log).toMatch(/config\.txt: Permission denied/);
        expect(log).toContain('the secret arrived through the environment');
        expect(log).not.toContain('hunter2');
        // No capability at all inside the step, even under the agent that holds CAP_SETUID.
        for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(log).toMatch(new RegExp(`${set}:\\s+0000000000000000`));
        const current = join(world.agents[i]!.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT, 'current');
        expect(await readlink(current)).toMatch(/^releases\//);
        const written = await stat(join(current, 'written-by-step'));
        expect([written.uid, written.gid]).toEqual([shop.uid, shop.gid]);
        expect((await stat(world.agents[i]!.dir)).mode & 0o777).toBe(0o711);
        expect((await stat(join(world.agents[i]!.dir, 'agent.json'))).mode & 0o777).toBe(0o600);
      }
      expect(capped?.output()).toContain('started; polling');
    },
    E2E_TIMEOUT,
  );

  it(
    'a later commit of the same application still deploys over the fenced release (prune and `current` work)',
    async () => {
      await pushCommit(world.appRepo, { ...sampleAppFiles('2'), 'bitenvoy.yml': FENCED_STEP }, 'version 2');
      const { deployment } = await world.deploy();
      const view = await world.waitForDeployment(deployment.id);
      expect(view.jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    },
    E2E_TIMEOUT,
  );
});
