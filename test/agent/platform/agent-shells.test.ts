/**
 * `shell:` in a real agent run (fake hub on loopback, real git repository, real shells): a step with `shell: bash`
 * runs bash-only syntax, a step without one gets /bin/sh (dash here) and fails on it, the file's `shell` reaches the
 * steps that name none and the `validate` command, and a secret is written for the step's own shell.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runAgent } from '../../../agent/run-agent.js';
import { silentLogger } from '../../../lib/logger.js';
import type { JobSpec } from '../../../lib/protocol.js';
import { createBareRepo, pushCommit } from '../../../testbed/git-repos.js';
import { enrollLocalAgent, jobSpec, startFakeHub, type FakeHub } from '../fake-hub.js';

let root: string;
let hub: FakeHub;
let bare: string;
let agent: { controller: AbortController; done: Promise<void> } | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-agent-shells-'));
  hub = await startFakeHub();
  bare = await createBareRepo(join(root, 'git'), 'acme/shop', { 'README.md': 'shop\n' });
});
afterEach(async () => {
  agent?.controller.abort();
  await agent?.done;
  await hub.close();
  await rm(root, { recursive: true, force: true });
});

async function deploy(instructions: string, secrets = ''): Promise<JobSpec> {
  const dir = join(root, 'agent');
  await enrollLocalAgent(hub, join(root, 'git'), dir, 'agent-1');
  if (secrets) await writeFile(join(dir, 'secrets.yml'), secrets, { mode: 0o600 });
  const sha = await pushCommit(bare, { 'bitenvoy.yml': instructions }, 'deploy me');
  const spec = jobSpec({ url: `file://${bare}`, sha });
  const controller = new AbortController();
  agent = { controller, done: runAgent({ dir, log: silentLogger(), signal: controller.signal, backoff: { baseMs: 20, capMs: 100 }, killGraceMs: 300, shutdownFlushMs: 3000 }) };
  hub.offer(spec);
  await hub.waitFor(() => hub.finalState(spec.id) !== undefined, 30_000);
  return spec;
}
const output = (jobId: string) => hub.jobs.get(jobId)!.logs.filter((c) => c.stream === 'stdout').map((c) => c.data).join('');
const BASH_ONLY = "a=(one two three); [[ ${#a[@]} == 3 ]] && echo \"array of ${#a[@]}, last ${a[2]}\"";

it('runs `shell: bash` steps in bash, and steps without a shell in /bin/sh', async () => {
  const spec = await deploy(`version: 1
steps:
  - name: with-bash
    shell: bash
    run: '${BASH_ONLY}'
  - name: default
    run: '${BASH_ONLY}'
`);
  expect(hub.finalState(spec.id)).toBe('failed');
  expect(output(spec.id)).toBe('array of 3, last three\n');
  const events = hub.jobs.get(spec.id)!.events.filter((e) => e.type === 'step').map((e) => (e.type === 'step' ? `${e.step.name}:${e.status}` : ''));
  expect(events).toEqual(['with-bash:started', 'with-bash:succeeded', 'default:started', 'default:failed']);
});

it('gives the file’s shell to the steps that name none and to validate, and writes secrets for it', async () => {
  const spec = await deploy(
    `version: 1
shell: bash
steps:
  - name: inherits
    run: '${BASH_ONLY}; printf "[%s]\\n" \${{ secrets.TOKEN }}'
  - name: overrides
    shell: sh
    run: 'echo "sh: \${BASH_VERSION:-none}"'
validate:
  run: '[[ -n $BASH_VERSION ]] && echo validated in bash'
  timeout: 5s
`,
    'TOKEN: "a&calc $(id) * x"\n',
  );
  expect(hub.finalState(spec.id)).toBe('succeeded');
  // The agent redacts the value from the log: `[***]` is what the exact value, printed as one word, becomes.
  expect(output(spec.id)).toBe('array of 3, last three\n[***]\nsh: none\nvalidated in bash\n');
});
