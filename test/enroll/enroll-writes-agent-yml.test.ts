/**
 * Enrollment makes the agent safe by default, against a real hub (real SQLite file, config repo over real git HTTP)
 * and the built CLI: `bitenvoy agent enroll` writes an agent.yml pinning the hub's git host, its environments'
 * branches and `bitenvoy.yml`; the agent then deploys with it; an owner's agent.yml is kept; flags win; bad flags
 * cost no token; and `bitenvoy agent run` refuses to start without agent.yml, saying what to write.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateYamlFile } from '../../config-schema/validate-yaml-file.js';
import type { AgentConfigFile } from '../../config-schema/types.generated.js';
import { createEnrollToken } from '../../app/enroll/create-enroll-token.js';
import { openStore } from '../../app/store/open-store.js';
import { runCli, startCli, type ManagedProcess } from '../../testbed/processes.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

const TIMEOUT = 60_000;
let t: TestHub;
const started: ManagedProcess[] = [];

beforeAll(async () => {
  t = await startTestHub({ BITENVOY_POLL_WAIT_SECONDS: '1' });
}, TIMEOUT);
afterAll(async () => {
  for (const agent of started) await agent.stop(3000);
  await t?.close();
});

async function token(): Promise<string> {
  const store = await openStore({ dataDir: t.dataDir });
  try {
    return (await createEnrollToken(store, { createdBy: 'test' })).token;
  } finally {
    await store.close();
  }
}

let counter = 0;
const enrollArgs = (dir: string, tok: string, ...extra: string[]) => ['agent', 'enroll', '--hub', t.url, '--token', tok, '--dir', dir, '--name', `yml-${++counter}`, '--labels', 'role=web', ...extra];

async function agentYml(dir: string): Promise<AgentConfigFile> {
  const result = validateYamlFile<AgentConfigFile>(await readFile(join(dir, 'agent.yml'), 'utf8'), 'agent', 'agent.yml');
  expect(result.errors).toEqual([]);
  return result.value!;
}

async function waitFinal(id: string) {
  for (let i = 0; i < 300; i++) {
    const summary = (await t.call('GET', `/api/v1/deployments/${id}`, { token: ADMIN_TOKEN })).json;
    if (['success', 'failure', 'error', 'cancelled'].includes(summary.deployment.state)) return t.viewDeployment(id);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`deployment ${id} never finished`);
}

describe('bitenvoy agent enroll', () => {
  it(
    'writes agent.yml pinning the hub’s git host and environment branches, says so, and the agent deploys with it',
    async () => {
      const dir = join(t.root, 'agents', 'default');
      const out = await runCli(enrollArgs(dir, await token()));
      const file = join(dir, 'agent.yml');
      expect(await agentYml(dir)).toEqual({
        allow: { gitBaseUrls: [`${t.git.url}/`], branches: ['main'], instructions: ['bitenvoy.yml'], repositories: ['demo/*'] },
        keepReleases: 5,
        secretsFile: 'secrets.yml',
      });
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const text = await readFile(file, 'utf8');
      expect(text).toContain(`gitBaseUrls: ["${t.git.url}/"]`);
      expect(text).toContain(`suggested by the hub ${t.url} at enrollment: check it`);
      expect(text).toContain('repositories: ["demo/*"]');
      expect(text).toMatch(/# environments: \[staging, production\]/);
      expect(out).toContain(`wrote ${file}, which pins:\n  allow.gitBaseUrls: ${t.git.url}/ — suggested by the hub ${t.url} at enrollment: check it\n`);
      expect(out).toContain('  allow.branches: main — suggested by the hub');
      expect(out).toContain('  allow.instructions: bitenvoy.yml — the default\n');
      expect(out).toContain(`Review it before you start the agent: the hub's suggestions are trusted on first use. Change it in ${file}`);
      expect(out).toContain(`start it with: bitenvoy agent run --dir ${dir}`);

      // The pinned file is what the agent runs with: the sample app on main deploys.
      const agent = startCli('default', ['agent', 'run', '--dir', dir]);
      started.push(agent);
      const res = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: 'demo/shop', ref: 'main', environment: 'staging' } });
      const view = await waitFinal(res.json.deployment.id);
      expect(view.jobs.map((j: { state: string }) => j.state), agent.output()).toEqual(['succeeded']);
      expect(agent.output()).not.toContain('has no allow.');
      await agent.stop(3000);
      expect(await readFile(join(dir, 'apps', 'demo', 'shop', 'staging', 'current', 'public', 'index.html'), 'utf8')).toContain('Shop version 1');
    },
    TIMEOUT,
  );

  it(
    'keeps an agent.yml the owner already has, and shows what the hub would have pinned',
    async () => {
      const dir = join(t.root, 'agents', 'owned');
      await mkdir(dir, { recursive: true });
      const mine = '# mine\nallow:\n  gitBaseUrls: [https://git.example.com/]\n  branches: [prod]\n';
      await writeFile(join(dir, 'agent.yml'), mine);
      const out = await runCli(enrollArgs(dir, await token()));
      expect(await readFile(join(dir, 'agent.yml'), 'utf8')).toBe(mine);
      expect(out).toContain(`kept your ${join(dir, 'agent.yml')}: enrollment never overwrites it; check that it sets allow.gitBaseUrls, allow.branches and allow.instructions (the hub suggests gitBaseUrls: ${t.git.url}/; branches: main)`);
      // Enrolling again (--force) keeps it too.
      await runCli([...enrollArgs(dir, await token()), '--force']);
      expect(await readFile(join(dir, 'agent.yml'), 'utf8')).toBe(mine);
    },
    TIMEOUT,
  );

  it(
    'lets flags win over the hub’s suggestion, key by key (repeatable, comma lists)',
    async () => {
      const dir = join(t.root, 'agents', 'flags');
      const out = await runCli(
        enrollArgs(dir, await token(), '--allow-git-base-url', 'https://git.example.com/scm/', '--allow-git-base-url', 'ssh://git@git.example.com/,https://github.com/', '--allow-instructions', 'bitenvoy.yml,deploy/bitenvoy.yml', '--allow-environments', 'staging', '--allow-repositories', 'demo/*'),
      );
      expect(await agentYml(dir)).toEqual({
        allow: {
          gitBaseUrls: ['https://git.example.com/scm/', 'ssh://git@git.example.com/', 'https://github.com/'],
          branches: ['main'],
          instructions: ['bitenvoy.yml', 'deploy/bitenvoy.yml'],
          repositories: ['demo/*'],
          environments: ['staging'],
        },
        keepReleases: 5,
        secretsFile: 'secrets.yml',
      });
      expect(out).toContain('  allow.gitBaseUrls: https://git.example.com/scm/, ssh://git@git.example.com/, https://github.com/ — given to `bitenvoy agent enroll`\n');
      expect(out).toContain('  allow.branches: main — suggested by the hub');
    },
    TIMEOUT,
  );

  it(
    'refuses bad flags, and flags next to an existing agent.yml, before the token is spent',
    async () => {
      const tok = await token();
      const dir = join(t.root, 'agents', 'bad-flags');
      const bad = runCli(enrollArgs(dir, tok, '--allow-branches', 'main,refs/pull/*', '--allow-instructions', '../secrets.yml'));
      await expect(bad).rejects.toThrow(/exited 2:\n[^]*the --allow-… flags do not make a valid agent\.yml, so nothing was sent to the hub:\n--allow-branches: `allow\.branches\[1\]`: expected a branch name like `main`, or a prefix ending in `\*` like `release\/\*` \(nothing under `refs\/`\)[^]*\n--allow-instructions: /);
      await expect(runCli(enrollArgs(dir, tok, '--allow-branches', 'main,,x'))).rejects.toThrow(/--allow-branches main,,x: an empty entry/);
      const owned = join(t.root, 'agents', 'owned-flags');
      await mkdir(owned, { recursive: true });
      await writeFile(join(owned, 'agent.yml'), 'allow:\n  branches: [main]\n');
      await expect(runCli(enrollArgs(owned, tok, '--allow-branches', 'main'))).rejects.toThrow(/agent\.yml exists and enrollment never overwrites it, so the --allow-… flags would do nothing/);
      await expect(stat(join(dir, 'agent.json'))).rejects.toThrow();
      // The token was never sent: it still enrolls.
      await runCli(enrollArgs(dir, tok));
      expect((await agentYml(dir)).allow?.branches).toEqual(['main']);
    },
    TIMEOUT,
  );
});

describe('bitenvoy agent run without agent.yml (an agent enrolled by an older version)', () => {
  it(
    'refuses to start, and says what to write or to enroll again',
    async () => {
      const dir = join(t.root, 'agents', 'old');
      await runCli(enrollArgs(dir, await token()));
      await rm(join(dir, 'agent.yml'));
      const agent = startCli('old', ['agent', 'run', '--dir', dir]);
      started.push(agent);
      expect(await agent.exited).toBe(2);
      const out = agent.output();
      expect(out).toContain(`${join(dir, 'agent.yml')} is missing, so the agent does not start: without it the hub alone decides where code comes from`);
      expect(out).toContain(`bitenvoy agent enroll --force --hub <url> --token <token> --dir ${dir}`);
      // The example it shows is a valid agent.yml as it stands.
      const example = out.slice(out.indexOf('\nallow:\n') + 1, out.indexOf('\n\nand start the agent again'));
      expect(validateYamlFile<AgentConfigFile>(example, 'agent', 'agent.yml').value).toEqual({
        allow: { gitBaseUrls: ['https://github.com/'], branches: ['main'], instructions: ['bitenvoy.yml'] },
        keepReleases: 5,
        secretsFile: 'secrets.yml',
      });
    },
    TIMEOUT,
  );

  it(
    'starts with an agent.yml that leaves gitBaseUrls and branches out, warning loudly how to set them',
    async () => {
      const dir = join(t.root, 'agents', 'loose');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'agent.yml'), 'keepReleases: 3\n');
      await runCli(enrollArgs(dir, await token()));
      const agent = startCli('loose', ['agent', 'run', '--dir', dir]);
      started.push(agent);
      for (let i = 0; i < 200 && !agent.output().includes('started; polling'); i++) await new Promise((r) => setTimeout(r, 50));
      const out = agent.output();
      expect(out).toContain('has no allow.gitBaseUrls: this agent fetches code from whatever URL the hub sends');
      expect(out).toContain('`gitBaseUrls: [https://github.com/]`');
      expect(out).toContain('has no allow.branches: this agent runs any commit the hub names');
      expect(out).toMatch(/"level":40/);
      expect(out).toContain('started; polling');
      await agent.stop(3000);
    },
    TIMEOUT,
  );
});
