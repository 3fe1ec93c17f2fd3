/**
 * A compromised hub against a real agent loop: the fake hub plays attacker (arbitrary job payloads, other
 * repositories, code from elsewhere, commits off the allowed branches, paths out of the release, requests that would
 * echo secrets) while real git repositories are served over real HTTP. Every test ends by checking everything the
 * agent ever sent to the hub (each request body: claims, events, log chunks) for the server's secrets and files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enrollAgent } from '../../agent/enroll-agent.js';
import { mirrorPath } from '../../agent/fetch-commit.js';
import { httpRequest, MAX_RESPONSE_BYTES } from '../../agent/http-request.js';
import { runAgent } from '../../agent/run-agent.js';
import { silentLogger } from '../../lib/logger.js';
import { withoutCredentials } from '../../lib/redact-url.js';
import type { JobEvent, JobSpec } from '../../lib/protocol.js';
import { startGitHttpServer, type GitHttpServer } from '../../testbed/git-http-server.js';
import { createBareRepo, pushCommit } from '../../testbed/git-repos.js';
import { jobSpec, startFakeHub, type FakeHub } from './fake-hub.js';

const SECRET = 's3cr3t-Value-8472';
const KEY_LINES = ['-----BEGIN TEST KEY-----', 'line-one-abc123', 'line-two-def456', '-----END TEST KEY-----'];
const UNUSED = 'unused-9f8e7d6c5b';
const SECRETS_YML = `DB_PASSWORD: ${SECRET}\nDEPLOY_KEY: ${JSON.stringify(KEY_LINES.join('\n'))}\nUNUSED_TOKEN: ${UNUSED}\n`;
/** Whatever of these reaches the hub is a leak: secret values, their halves, the lines of a key, a system file. */
const NEVER_SENT = [SECRET, SECRET.slice(0, 8), SECRET.slice(8), ...KEY_LINES, UNUSED, 'root:x:0:0'];
const GOOD_STEPS = 'version: 1\nsteps:\n  - name: deploy\n    run: echo deployed-from-commit > "$BITENVOY_RELEASE_DIR/marker.txt"\n';

let root: string;
let git: GitHttpServer;
let attacker: GitHttpServer;
let shop: string;
let otherSha: string;
let evilSha: string;
let hub: FakeHub;
const agents: Array<{ controller: AbortController; done: Promise<void>; settled: () => boolean }> = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-malicious-'));
  shop = await createBareRepo(join(root, 'git'), 'acme/shop', { 'bitenvoy.yml': GOOD_STEPS });
  const other = await createBareRepo(join(root, 'git'), 'other/tool', { 'bitenvoy.yml': `version: 1\nsteps:\n  - name: x\n    run: touch ${root}/pwned-other\n` });
  otherSha = execFileSync('git', ['--git-dir', other, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
  // The attacker's copy of acme/shop: its instruction file would hand the secrets over.
  const evil = await createBareRepo(join(root, 'attacker'), 'acme/shop', { 'bitenvoy.yml': `version: 1\nsteps:\n  - name: x\n    run: touch ${root}/pwned-evil; echo \${{ secrets.DB_PASSWORD }} | base64\n` });
  await createBareRepo(join(root, 'git'), 'evil/shop', { 'bitenvoy.yml': `version: 1\nsteps:\n  - name: x\n    run: touch ${root}/pwned-evil\n` });
  evilSha = execFileSync('git', ['--git-dir', evil, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
  git = await startGitHttpServer({ root: join(root, 'git') });
  attacker = await startGitHttpServer({ root: join(root, 'attacker') });
});
afterAll(async () => {
  await git.close();
  await attacker.close();
  await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  hub = await startFakeHub();
});
afterEach(async () => {
  for (const agent of agents.splice(0)) {
    agent.controller.abort();
    await agent.done;
  }
  await hub.close();
  // Whatever the test did, the agent revealed nothing: not in a claim, an event, a message or a log chunk.
  const sent = JSON.stringify(hub.requests.map((r) => r.body));
  for (const value of NEVER_SENT) expect(sent, `the agent sent ${JSON.stringify(value)} to the hub`).not.toContain(value);
  for (const marker of ['pwned-other', 'pwned-evil', 'pwned-command', 'pwned-steps', 'pwned-sha', 'pwned-feature', 'pwned-pull', 'pwned-docs']) expect(existsSync(join(root, marker)), marker).toBe(false);
});

/** The owner's rules: one repository, one environment, code only from the real git server, only main and release/*. */
const strictConfig = (instructions = ['bitenvoy.yml']) =>
  `allow:\n  repositories: [acme/shop]\n  environments: [production]\n  gitBaseUrls: ['${git.url}/']\n  branches: [main, release/*]\n  instructions: [${instructions.join(', ')}]\n`;
/** No allowlist at all (an owner's agent.yml that leaves `allow` out): what the hub sends is still checked. */
const wideOpen = 'keepReleases: 5\n';

let counter = 0;
async function startAgent(agentYml?: string): Promise<string> {
  const dir = join(root, `agent-${++counter}`);
  await enrollAgent({ hub: hub.url, token: 'enroll-token', name: `agent-${counter}`, labels: {}, dir, log: silentLogger() });
  if (agentYml !== undefined) await writeFile(join(dir, 'agent.yml'), agentYml);
  await writeFile(join(dir, 'secrets.yml'), SECRETS_YML, { mode: 0o600 });
  const controller = new AbortController();
  let settled = false;
  const done = runAgent({ dir, log: silentLogger(), signal: controller.signal, backoff: { baseMs: 20, capMs: 100 }, killGraceMs: 300, shutdownFlushMs: 3000 }).finally(() => (settled = true));
  agents.push({ controller, done, settled: () => settled });
  return dir;
}

const shopJob = (sha: string, fields: Partial<Parameters<typeof jobSpec>[0]> = {}) => jobSpec({ url: `${git.url}/acme/shop.git`, sha, environment: 'production', ...fields });
const summary = (events: JobEvent[]) => events.map((e) => (e.type === 'state' ? e.state : `${e.step.index}:${e.status}`));
const message = (jobId: string) => hub.jobs.get(jobId)!.events.findLast((e) => e.type === 'state')?.message;
const output = (jobId: string, stream?: string) =>
  hub.jobs
    .get(jobId)!
    .logs.filter((c) => !stream || c.stream === stream)
    .map((c) => c.data)
    .join('');

async function finished(...specs: JobSpec[]): Promise<void> {
  for (const spec of specs) hub.offer(spec);
  await hub.waitFor(() => specs.every((spec) => hub.finalState(spec.id) !== undefined), 20_000);
}

/** Pushes a commit holding `files` that is on no branch: only a pull request's `refs/pull/<n>/head` names it, as on GitHub. */
async function pushPullRequestHead(bare: string, number: number, files: Record<string, string>): Promise<string> {
  const sha = await pushCommit(bare, files, 'a pull request, never merged', `pr-${number}`);
  execFileSync('git', ['--git-dir', bare, 'update-ref', `refs/pull/${number}/head`, sha]);
  execFileSync('git', ['--git-dir', bare, 'update-ref', '-d', `refs/heads/pr-${number}`]);
  return sha;
}

/** Pushes a commit to main of `bare` holding `files` and the symlinks `links` (path → target). */
async function pushWithLinks(bare: string, files: Record<string, string>, links: Record<string, string>): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'bitenvoy-links-'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t.invalid' };
  const run = (...args: string[]) => execFileSync('git', args, { cwd: work, env, encoding: 'utf8' }).trim();
  try {
    run('init', '--quiet', '--initial-branch', 'main');
    run('fetch', '--quiet', bare, 'main');
    run('checkout', '--quiet', '-B', 'main', 'FETCH_HEAD');
    for (const [path, text] of Object.entries(files)) await writeFile(join(work, path), text);
    for (const [path, target] of Object.entries(links)) await symlink(target, join(work, path));
    run('add', '--all');
    run('commit', '--quiet', '-m', 'links');
    run('push', '--quiet', bare, 'HEAD:refs/heads/main');
    return run('rev-parse', 'HEAD');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe('a compromised hub cannot make the agent run anything outside its allowlist', () => {
  it('refuses a job for another repository before any fetch: no mirror, no release, no request to the git server', async () => {
    const dir = await startAgent(strictConfig());
    const spec = jobSpec({ url: `${git.url}/other/tool.git`, sha: otherSha, repository: 'other/tool', environment: 'production' });
    await finished(spec);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['refused']);
    expect(message(spec.id)).toMatch(/^this agent's allowlist does not accept repository other\/tool \(allow\.repositories: acme\/shop\); the server's owner can add `other\/tool`/);
    expect(existsSync(mirrorPath(dir, 'other/tool'))).toBe(false);
    expect(existsSync(join(dir, 'apps'))).toBe(false);
    expect(git.requests('/other/')).toBe(0);
  });

  it('refuses an environment that is not allowed before any fetch', async () => {
    const dir = await startAgent(strictConfig());
    const before = git.requests();
    const spec = shopJob(execFileSync('git', ['--git-dir', shop, 'rev-parse', 'main'], { encoding: 'utf8' }).trim(), { environment: 'staging' });
    await finished(spec);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['refused']);
    expect(message(spec.id)).toMatch(/does not accept environment staging \(allow\.environments: production\)/);
    expect(git.requests()).toBe(before);
    expect(existsSync(join(dir, 'git'))).toBe(false);
  });

  it('refuses code from anywhere but the pinned git server, under an allowed repository name, before any fetch', async () => {
    const dir = await startAgent(strictConfig());
    const before = git.requests();
    const port = new URL(git.url).port;
    const elsewhere = shopJob(evilSha, { url: `${attacker.url}/acme/shop.git` });
    const otherPath = shopJob(evilSha, { url: `${git.url}/evil/shop.git` });
    const withUser = shopJob(evilSha, { url: `http://x:y@127.0.0.1:${port}/acme/shop.git` });
    const climbing = shopJob(evilSha, { url: `${git.url}/evil/../acme/shop.git` });
    await finished(elsewhere, otherPath, withUser, climbing);
    for (const spec of [elsewhere, otherPath, withUser, climbing]) {
      expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['refused']);
      // What the agent reports never carries credentials, even those a hostile hub put into a URL.
      expect(message(spec.id)).toContain(`this agent's allowlist does not accept git URL ${withoutCredentials(spec.git.url)} for acme/shop (`);
    }
    expect(message(elsewhere.id)).toContain(`the server's owner can add \`${attacker.url}/\` to allow.gitBaseUrls in agent.yml`);
    expect(message(otherPath.id)).toContain('the URL does not end in acme/shop or acme/shop.git, so it is not that repository');
    expect(message(withUser.id)).toContain('it carries a user name or password');
    expect(message(climbing.id)).toContain('it has a `.` or `..` path segment');
    expect(attacker.requests()).toBe(0);
    expect(git.requests()).toBe(before);
    expect(existsSync(join(dir, 'git'))).toBe(false);
  });

  it('refuses a commit that is not on an allowed branch: only the allowed branches are fetched, nothing is checked out', async () => {
    const dir = await startAgent(strictConfig());
    const feature = await pushCommit(shop, { 'bitenvoy.yml': `version: 1\nsteps:\n  - name: x\n    run: touch ${root}/pwned-feature\n` }, 'unreviewed', 'feature/backdoor');
    const spec = shopJob(feature);
    const unknown = shopJob('f'.repeat(40));
    await finished(spec, unknown);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'refused']);
    expect(message(spec.id)).toMatch(
      new RegExp(`^commit ${feature.slice(0, 7)} is not reachable from main, release/\\* in acme/shop \\(this agent's allow\\.branches; it fetched main[^)]*\\): .*add its branch to allow\\.branches in agent\\.yml`),
    );
    expect(summary(hub.jobs.get(unknown.id)!.events)).toEqual(['fetching', 'refused']);
    expect(message(unknown.id)).toMatch(/^commit fffffff is not reachable from main, release\/\* in acme\/shop/);
    // The commit was never fetched (the agent asked for branches, not for SHAs) and nothing was checked out.
    expect(() => execFileSync('git', ['--git-dir', mirrorPath(dir, 'acme/shop'), 'cat-file', '-e', `${feature}^{commit}`], { stdio: 'ignore' })).toThrow();
    expect(existsSync(join(dir, 'apps'))).toBe(false);
  });

  it('ignores extra fields in a job: what runs is only the commit’s own instruction file', async () => {
    const dir = await startAgent(strictConfig());
    const sha = await pushCommit(shop, { 'bitenvoy.yml': `${GOOD_STEPS}  - name: environment\n    run: env > "$BITENVOY_RELEASE_DIR/env.txt"\n` }, 'deploy');
    const spec = {
      ...shopJob(sha),
      command: `touch ${root}/pwned-command; cat secrets.yml`,
      run: `touch ${root}/pwned-command`,
      steps: [{ name: 'evil', run: `touch ${root}/pwned-steps; cat ../../../../../../secrets.yml` }],
      env: { INJECTED_BY_HUB: 'from-the-hub', LD_PRELOAD: `${root}/evil.so` },
      secrets: ['DB_PASSWORD', 'DEPLOY_KEY'],
      validate: { run: `touch ${root}/pwned-steps` },
      git: { url: `${git.url}/acme/shop.git`, uploadPack: `touch ${root}/pwned-command`, config: { 'core.sshCommand': `touch ${root}/pwned-command` } },
    } as JobSpec;
    await finished(spec);
    const job = hub.jobs.get(spec.id)!;
    expect(summary(job.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', '1:started', '1:succeeded', 'succeeded']);
    expect(job.events.flatMap((e) => (e.type === 'step' ? [e.step.name] : []))).toEqual(['deploy', 'deploy', 'environment', 'environment']);
    const release = join(dir, 'apps', 'acme', 'shop', 'production', 'releases', spec.id);
    expect(await readFile(join(release, 'marker.txt'), 'utf8')).toBe('deployed-from-commit\n');
    const env = await readFile(join(release, 'env.txt'), 'utf8');
    expect(env).not.toContain('INJECTED_BY_HUB');
    expect(env).not.toContain('evil.so');
    expect(env).not.toContain('BITENVOY_SECRET_');
  });

  it('never reads an instruction file outside the release: by path or by a symlink in the commit', async () => {
    const dir = await startAgent(strictConfig(['bitenvoy.yml', 'deploy.yml', 'passwd.yml', 'conf/passwd']));
    const before = git.requests();
    const climbing = shopJob('0'.repeat(40), { instructions: '../../secrets.yml' });
    const absolute = shopJob('0'.repeat(40), { instructions: '/etc/passwd' });
    await finished(climbing, absolute);
    for (const spec of [climbing, absolute]) {
      expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['failed']);
      expect(message(spec.id)).toContain(`\`instructions\`: expected a relative path inside the commit, like \`bitenvoy.yml\` or \`deploy/bitenvoy.yml\`, got ${JSON.stringify(spec.instructions)}`);
    }
    expect(git.requests()).toBe(before);

    const sha = await pushWithLinks(shop, {}, { 'deploy.yml': '../../../../../../secrets.yml', 'passwd.yml': '/etc/passwd', conf: '/etc' });
    const viaLink = shopJob(sha, { instructions: 'deploy.yml' });
    const viaAbsoluteLink = shopJob(sha, { instructions: 'passwd.yml' });
    const viaLinkedDir = shopJob(sha, { instructions: 'conf/passwd' });
    await finished(viaLink, viaAbsoluteLink, viaLinkedDir);
    for (const [spec, name] of [[viaLink, 'deploy.yml'], [viaAbsoluteLink, 'passwd.yml'], [viaLinkedDir, 'conf/passwd']] as const) {
      expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'failed']);
      expect(message(spec.id)).toBe(`\`${name}\` is a symlink that leads outside the commit; the instruction file must be a regular file inside the repository (acme/shop@${sha.slice(0, 7)})`);
    }
    // The symlink did point at the secrets file: the agent had it on disk and still sent none of it.
    expect(readFileSync(join(dir, 'apps', 'acme', 'shop', 'production', 'releases', viaLink.id, 'deploy.yml'), 'utf8')).toBe(SECRETS_YML);
  });

  it('fails a short, invalid or unknown SHA without running anything, and git never takes one for an option', async () => {
    // An agent without any allowlist: even wide open, what the hub sends is checked before git sees it.
    const dir = await startAgent(wideOpen);
    const url = `file://${shop}`;
    const short = jobSpec({ url, sha: 'abc1234' });
    const option = jobSpec({ url, sha: `--upload-pack=touch ${root}/pwned-sha; git-upload-pack` });
    const optionUrl = jobSpec({ url: `--upload-pack=touch ${root}/pwned-sha`, sha: 'a'.repeat(40) });
    const unknown = jobSpec({ url, sha: 'e'.repeat(40) });
    await finished(short, option, optionUrl, unknown);
    for (const spec of [short, option, optionUrl]) {
      expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['failed']);
      expect(message(spec.id)).toMatch(/^the hub sent a job this agent cannot run, so nothing was fetched or run: `(sha|git\.url)`: expected /);
    }
    expect(summary(hub.jobs.get(unknown.id)!.events)).toEqual(['fetching', 'failed']);
    expect(message(unknown.id)).toBe(`commit ${'e'.repeat(40)} is not in ${url} (fetched main); was the branch force-pushed?`);
    expect(existsSync(join(dir, 'apps'))).toBe(false);
  });
});

describe('with the agent.yml enrollment writes by default, a hub that turns hostile after enrollment', () => {
  // The hub was honest when the agent enrolled: it suggested its git server and its environments' branch.
  beforeEach(() => {
    hub.suggestedAllow = { gitBaseUrls: [`${git.url}/`], branches: ['main'], repositories: ['acme/*'] };
  });

  it('refuses another repository of the pinned git host (on github.com: any public one), before anything is fetched', async () => {
    const dir = await startAgent();
    expect(await readFile(join(dir, 'agent.yml'), 'utf8')).toContain('repositories: ["acme/*"]');
    const before = git.requests();
    const spec = jobSpec({ url: `${git.url}/other/tool.git`, sha: otherSha, repository: 'other/tool', environment: 'production' });
    await finished(spec);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['refused']);
    expect(message(spec.id)).toMatch(/^this agent's allowlist does not accept repository other\/tool \(allow\.repositories: acme\/\*\)/);
    expect(git.requests()).toBe(before);
    expect(existsSync(`${root}/pwned-other`)).toBe(false);
  });

  it('runs what the hub configured: a commit on main, from the pinned git server', async () => {
    const dir = await startAgent();
    expect(await readFile(join(dir, 'agent.yml'), 'utf8')).toContain(`gitBaseUrls: ["${git.url}/"]`);
    const spec = shopJob(await pushCommit(shop, { 'bitenvoy.yml': GOOD_STEPS }, 'good'));
    await finished(spec);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', 'succeeded']);
  });

  it('refuses an allowed repository pointed at the hub’s own git host, before anything is fetched', async () => {
    const dir = await startAgent();
    const before = git.requests();
    const spec = shopJob(evilSha, { url: `${attacker.url}/acme/shop.git` });
    await finished(spec);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['refused']);
    expect(message(spec.id)).toContain(`this agent's allowlist does not accept git URL ${attacker.url}/acme/shop.git for acme/shop (allow.gitBaseUrls: ${git.url}/)`);
    expect(attacker.requests()).toBe(0);
    expect(git.requests()).toBe(before);
    expect(existsSync(join(dir, 'git'))).toBe(false);
  });

  it('refuses a commit that exists only under refs/pull/1/head: it is never fetched, its steps never run', async () => {
    const dir = await startAgent();
    const pull = await pushPullRequestHead(shop, 1, { 'bitenvoy.yml': `version: 1\nsteps:\n  - name: x\n    run: touch ${root}/pwned-pull\n` });
    const spec = shopJob(pull, { ref: 'refs/pull/1/head' });
    await finished(spec);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'refused']);
    expect(message(spec.id)).toMatch(new RegExp(`^commit ${pull.slice(0, 7)} is not reachable from main in acme/shop \\(this agent's allow\\.branches; it fetched main\\)`));
    expect(() => execFileSync('git', ['--git-dir', mirrorPath(dir, 'acme/shop'), 'cat-file', '-e', `${pull}^{commit}`], { stdio: 'ignore' })).toThrow();
    expect(existsSync(join(dir, 'apps'))).toBe(false);
  });

  it('refuses an instruction file the hub names other than bitenvoy.yml, before anything is fetched', async () => {
    const dir = await startAgent();
    const sha = await pushCommit(shop, { 'docs/example-bitenvoy.yml': `version: 1\nsteps:\n  - name: example\n    run: touch ${root}/pwned-docs\n` }, 'docs: an example');
    const before = git.requests();
    const spec = shopJob(sha, { instructions: 'docs/example-bitenvoy.yml' });
    await finished(spec);
    expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['refused']);
    expect(message(spec.id)).toMatch(/^this agent's allowlist does not accept the instruction file docs\/example-bitenvoy\.yml \(allow\.instructions: bitenvoy\.yml\): .*add `docs\/example-bitenvoy\.yml` to allow\.instructions in agent\.yml/);
    expect(git.requests()).toBe(before);
    expect(existsSync(join(dir, 'git'))).toBe(false);
  });
});

describe('a compromised hub cannot read the agent’s secrets', () => {
  it('redacts a secret a step echoes (whole, inside other text, split across writes, a key line by line); other steps never get it', async () => {
    const previous = process.env.BITENVOY_SECRET_FROM_ENV;
    process.env.BITENVOY_SECRET_FROM_ENV = 'agent-env-secret-31337';
    try {
      const dir = await startAgent(strictConfig());
      const steps = [
        'version: 1',
        'steps:',
        '  - name: echo-secret',
        '    run: |',
        '      echo "${{ secrets.DB_PASSWORD }}"',
        '      echo "connecting with password=${{ secrets.DB_PASSWORD }};timeout=5"',
        "      v='${{ secrets.DB_PASSWORD }}'",
        '      printf "first half: %s" "${v%?????????}"; sleep 0.6; printf "%s (second half)\\n" "${v#????????}"',
        '      echo "$v" >&2',
        "      printf '%s\\n' \"${{ secrets.DEPLOY_KEY }}\" | while IFS= read -r line; do echo \"key line: $line\"; sleep 0.3; done",
        '  - name: no-secrets',
        '    run: env | sort > "$BITENVOY_RELEASE_DIR/env.txt"; env | grep "^BITENVOY_" | sort',
      ].join('\n');
      const sha = await pushCommit(shop, { 'bitenvoy.yml': `${steps}\n` }, 'echo secrets', 'release/7');
      const spec = shopJob(sha);
      await finished(spec);
      expect(summary(hub.jobs.get(spec.id)!.events)).toEqual(['fetching', 'running', '0:started', '0:succeeded', '1:started', '1:succeeded', 'succeeded']);
      const stdout = output(spec.id, 'stdout');
      expect(stdout).toContain('***\nconnecting with password=***;timeout=5\nfirst half: *** (second half)\n');
      expect(stdout).toContain(KEY_LINES.map(() => 'key line: ***\n').join(''));
      expect(output(spec.id, 'stderr')).toBe('***\n');
      // No chunk carries a piece of the split value either: its first half was held back until the second came.
      for (const chunk of hub.jobs.get(spec.id)!.logs) for (const value of NEVER_SENT) expect(chunk.data).not.toContain(value);

      // The step that references no secret has none in its environment, nor the agent's own secret variables.
      const release = join(dir, 'apps', 'acme', 'shop', 'production', 'releases', spec.id);
      const env = await readFile(join(release, 'env.txt'), 'utf8');
      for (const value of [...NEVER_SENT, 'agent-env-secret-31337', 'BITENVOY_SECRET_']) expect(env).not.toContain(value);
      // BITENVOY_* tell the step about its deployment only: none names the secrets file or the agent directory.
      const bitenvoy = stdout.split('\n').filter((line) => line.startsWith('BITENVOY_'));
      const names = bitenvoy.map((line) => line.split('=')[0]!);
      const facts = ['BITENVOY_CURRENT_DIR', 'BITENVOY_DEPLOYMENT_ID', 'BITENVOY_ENVIRONMENT', 'BITENVOY_JOB_ID', 'BITENVOY_REF', 'BITENVOY_RELEASE_DIR', 'BITENVOY_REPOSITORY', 'BITENVOY_SHA'];
      expect(names).toEqual(expect.arrayContaining(facts));
      // Anything else is only what the agent itself was started with, and never a secret variable.
      expect(names.filter((name) => !facts.includes(name) && !(name in process.env))).toEqual([]);
      expect(names).not.toContain('BITENVOY_SECRET_FROM_ENV');
      for (const line of bitenvoy) {
        const value = line.slice(line.indexOf('=') + 1);
        expect(value).not.toContain('secrets.yml');
        expect(value).not.toBe(dir);
      }
    } finally {
      if (previous === undefined) delete process.env.BITENVOY_SECRET_FROM_ENV;
      else process.env.BITENVOY_SECRET_FROM_ENV = previous;
    }
  });
});

describe('a hub that sends garbage', () => {
  it('does not crash the agent: malformed jobs fail or are skipped, and the agent keeps polling and runs the next good job', async () => {
    const dir = await startAgent(strictConfig());
    const agent = agents.at(-1)!;
    const goodSha = await pushCommit(shop, { 'bitenvoy.yml': GOOD_STEPS }, 'good');
    const before = git.requests();
    hub.offerRaw(null);
    hub.offerRaw('run this');
    hub.offerRaw({ id: 42, command: 'id' });
    hub.offerRaw('x'.repeat(9 * 1024 * 1024));
    const wrongTypes = { id: 'job_wrong_types', repository: 42, environment: ['production'], sha: {}, git: 'http://x', instructions: null } as unknown as JobSpec;
    const huge = { ...shopJob('a'.repeat(40)), id: 'job_huge_strings', deploymentId: 'd'.repeat(500_000), ref: 'r'.repeat(500_000) };
    const missing = { id: 'job_missing_fields' } as unknown as JobSpec;
    await finished(wrongTypes, huge, missing);
    for (const id of [wrongTypes.id, huge.id, missing.id]) {
      expect(summary(hub.jobs.get(id)!.events)).toEqual(['failed']);
      expect(message(id)).toMatch(/^the hub sent a job this agent cannot run, so nothing was fetched or run: /);
      expect(message(id)!.length).toBeLessThan(4000);
    }
    expect(message(wrongTypes.id)).toContain('`repository`: expected `owner/name`, got a number; `environment`: expected an environment name of letters, digits, `.`, `_` and `-`, got a list');
    expect(message(huge.id)).toContain('(500000 characters)');
    expect(git.requests()).toBe(before);
    expect(existsSync(join(dir, 'git'))).toBe(false);

    const good = shopJob(goodSha);
    await finished(good);
    expect(hub.finalState(good.id)).toBe('succeeded');
    expect(agent.settled()).toBe(false);
    // Jobs without a usable id were never claimed: there is nothing to report them against.
    expect(hub.requests.filter((r) => r.path.endsWith('/claim')).map((r) => r.path)).toEqual([wrongTypes, huge, missing, good].map((s) => `/jobs/${s.id}/claim`));
  });

  it('stops reading an answer that never ends instead of filling the agent’s memory', async () => {
    let sent = 0;
    const endless = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      const more = () => {
        while (!res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) break;
        }
      };
      res.on('drain', more);
      more();
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(endless.address() as AddressInfo).port}/api/agent/v1/jobs/next`;
      await expect(httpRequest('GET', url, { timeoutMs: 10_000 })).rejects.toThrow(`is larger than ${MAX_RESPONSE_BYTES >> 20} MiB; not reading it`);
      // It really was sent, and reading stopped soon after the limit (socket buffers hold a few MiB more).
      expect(sent).toBeGreaterThan(MAX_RESPONSE_BYTES / 2);
      expect(sent).toBeLessThan(MAX_RESPONSE_BYTES + 64 * 1024 * 1024);
    } finally {
      endless.closeAllConnections();
      await new Promise((resolve) => endless.close(resolve));
    }
  });
});
