/**
 * The pull-request commands without a pull request, end to end: a real hub process in local mode, a real agent
 * process, the application and config repos over git HTTP, and the built CLI (dist/). Deploy → `status` shows it
 * live → `lock` → a deploy is refused naming the lock and how to unlock → `unlock` → a second commit deploys →
 * `rollback` puts the first commit back → `logs` prints a step's output, and `logs --follow` prints a deployment's
 * steps as they run and ends at its final state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushCommit } from '../../testbed/git-repos.js';
import { SAMPLE_ENVIRONMENT as ENV, SAMPLE_REPOSITORY as REPO, sampleAppFiles } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';
import { runBitenvoy, type CliResult } from './run-bitenvoy.js';

let world: World;
beforeAll(async () => {
  world = await startWorld({ agents: 1 });
}, 120_000);
afterAll(async () => world?.close());

const cli = (...args: string[]): Promise<CliResult> => runBitenvoy([...args, '--hub', world.hub.url, '--token', world.hub.adminToken], { timeoutMs: 90_000 });
const where = ['-r', REPO, '-e', ENV];

describe('status, lock, unlock, rollback and logs from the CLI, in local mode', () => {
  it('deploys, shows it live, refuses a deploy while locked, rolls back, and prints the logs', async () => {
    const first = await cli('deploy', ...where, '--ref', 'main');
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const firstId = /^deployment (dep_\w+):/m.exec(first.stdout)![1]!;
    const firstSha = /@([0-9a-f]{7}) \(main\)/.exec(first.stdout)![1]!;

    let status = await cli('status', '-r', REPO);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${REPO} → ${ENV}\\n  live     ${firstSha} \\(main\\) since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC, by api — ${firstId}$`, 'm'));
    // The live commit's title and author, as the hub read them over git.
    expect(status.stdout).toMatch(/^ {2}commit {3}Initial commit — BitEnvoy Testbed$/m);

    const lock = await cli('lock', ...where, '--reason', 'db migration', '--by', 'alice');
    expect(lock.code, lock.stderr).toBe(0);
    expect(lock.stdout).toMatch(/^🔒 `staging` is locked by @alice since .*: db migration\. Every deployment to `staging` .* is refused until it is unlocked \(`bitenvoy unlock -r demo\/shop -e staging` releases it\)/);
    const refused = await cli('deploy', ...where, '--ref', 'main');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/hub answered 409 BE_GUARD_RAIL: cannot deploy `[0-9a-f]{7}` to `staging`: `staging` is locked by @alice since .*: db migration; `bitenvoy unlock -r demo\/shop -e staging` releases it/);
    status = await cli('status', ...where);
    expect(status.stdout).toMatch(/^ {2}lock {5}🔒 `staging` is locked by @alice since .*: db migration$/m);
    const unlock = await cli('unlock', ...where);
    expect([unlock.code, unlock.stdout.trim()]).toEqual([0, '🔓 `staging` of demo/shop unlocked (it was locked by @alice: db migration).']);

    await pushCommit(world.appRepo, sampleAppFiles('2'), 'version 2');
    const second = await cli('deploy', ...where, '--ref', 'main');
    expect(second.code, second.stdout + second.stderr).toBe(0);
    const secondId = /^deployment (dep_\w+):/m.exec(second.stdout)![1]!;
    const secondSha = /@([0-9a-f]{7}) \(main\)/.exec(second.stdout)![1]!;
    expect(secondSha).not.toBe(firstSha);

    const rollback = await cli('rollback', ...where);
    expect(rollback.code, rollback.stdout + rollback.stderr).toBe(0);
    expect(rollback.stdout).toMatch(new RegExp(`^rolling staging from ${secondSha} back to ${firstSha} \\(as deployed by ${firstId}\\): deployment dep_\\w+$`, 'm'));
    expect(rollback.stdout).toMatch(/^success: /m);
    const rollbackId = /deployment (dep_\w+)$/m.exec(rollback.stdout)![1]!;
    status = await cli('status', ...where);
    expect(status.stdout).toMatch(new RegExp(`^ {2}live {5}${firstSha} \\(rollback\\) since .*, by api \\(rollback\\) — ${rollbackId}$`, 'm'));

    // The second deployment's build step, as the agent ran it.
    const logs = await cli('logs', secondId);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(new RegExp(`^web-1 \\| building shop version 2 at ${secondSha}[0-9a-f]{33}$`, 'm'));
    const one = await cli('logs', secondId, '--server', 'web-1');
    expect(one.stdout).toMatch(/^building shop version 2 at /m);
    // `continue` and `cancel` take the environment too, as `/continue production` does.
    const notPaused = await cli('continue', ...where);
    expect([notPaused.code, notPaused.stderr.trim()]).toEqual([1, 'bitenvoy: no rollout of `staging` is paused between batches; `bitenvoy status -r demo/shop` shows what runs there']);
    const both = await cli('cancel', secondId, ...where);
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining('give one deployment id, e.g. `bitenvoy cancel dep_1a2b3c4d5e6f`, or --repository and --environment')]);
    const unknown = await cli('logs', secondId, '--server', 'web-9');
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('the deployment has no server `web-9` (an agent name or a job id); its servers: web-1')]);
  }, 240_000);

  it('follows a deployment\'s logs until its final state', async () => {
    // A build that takes a few seconds, between two lines: the CLI follows it while it runs.
    const files = sampleAppFiles('3');
    files['bitenvoy.yml'] = files['bitenvoy.yml']!.replace('mkdir -p public', 'sleep 3\n      mkdir -p public');
    await pushCommit(world.appRepo, files, 'version 3, slow build');
    const started = await cli('deploy', ...where, '--ref', 'main', '--no-wait');
    expect(started.code, started.stderr).toBe(0);
    const id = /^deployment (dep_\w+):/m.exec(started.stdout)![1]!;
    const followed = await cli('logs', id, '--follow');
    expect(followed.code, followed.stdout + followed.stderr).toBe(0);
    const lines = followed.stdout.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^web-1 \| building shop version 3 at [0-9a-f]{40}$/));
    expect(lines).toContain('web-1 | build output looks right');
    // Each line once (read forward by cursor, never the whole log again), and the final state last.
    expect(lines.filter((l) => l.includes('build output looks right'))).toHaveLength(1);
    expect(new Set(lines).size, followed.stdout).toBe(lines.length);
    expect(lines.at(-1)).toBe('success: 1/1 servers succeeded');
  }, 120_000);
});
