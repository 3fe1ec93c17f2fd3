import { stat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/agent-config.js';
import { enrollAgent, parseLabels } from '../../agent/enroll-agent.js';
import { CHECKED_FILE } from '../../agent/read-agent-yml.js';
import { silentLogger } from '../../lib/logger.js';
import { FAKE_CREDENTIAL, startFakeHub, type FakeHub } from './fake-hub.js';

let root: string;
let hub: FakeHub;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitenvoy-enroll-agent-'));
  hub = await startFakeHub();
});
afterEach(async () => {
  await hub.close();
  await rm(root, { recursive: true, force: true });
});

it('enrolls once, keeping the credential in agent.json (0600) in a 0700 directory', async () => {
  const dir = join(root, 'agent');
  const enrolled = await enrollAgent({ hub: `${hub.url}/`, token: 'tok', name: 'web-1', labels: { role: 'web' }, dir, log: silentLogger() });
  expect(enrolled).toMatchObject({ agentId: 'agt_1', hub: hub.url, credential: FAKE_CREDENTIAL });
  expect(hub.requests[0]).toMatchObject({ method: 'POST', path: '/enroll', body: { token: 'tok', name: 'web-1', labels: { role: 'web' } } });
  const file = join(dir, 'agent.json');
  expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ hub: hub.url, agentId: 'agt_1', name: 'web-1', credential: FAKE_CREDENTIAL, settings: { pollWaitSeconds: 1, leaseSeconds: 60, heartbeatSeconds: 60 } });
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect((await stat(dir)).mode & 0o777).toBe(0o700);

  await expect(enrollAgent({ hub: hub.url, token: 'tok2', name: 'web-1', labels: {}, dir, log: silentLogger() })).rejects.toThrow(/agent\.json exists: this directory is already enrolled; pass --force/);
  expect(hub.requests).toHaveLength(1);
  await enrollAgent({ hub: hub.url, token: 'tok2', name: 'web-1', labels: {}, dir, force: true, log: silentLogger() });
  expect(hub.requests).toHaveLength(2);
});

it('surfaces the hub refusing a token with its own code and message, writing nothing', async () => {
  hub.fail.before = () => 401;
  const dir = join(root, 'refused');
  await expect(enrollAgent({ hub: hub.url, token: 'bad', name: 'web-1', labels: {}, dir, log: silentLogger() })).rejects.toMatchObject({ code: 'BE_INTERNAL', status: 401, message: 'fake hub failure' });
  await expect(stat(join(dir, 'agent.json'))).rejects.toThrow();
});

it('parses labels and explains junk', () => {
  expect(parseLabels('role=web, region=eu-west,empty=')).toEqual({ role: 'web', region: 'eu-west', empty: '' });
  expect(parseLabels('')).toEqual({});
  expect(() => parseLabels('role=web,oops')).toThrow('--labels: `oops` is not a label; write key=value pairs separated by commas, e.g. role=web,region=eu (values: letters, digits, . _ -)');
  expect(() => parseLabels('role=we b')).toThrow(/`role=we b` is not a label/);
});

it('writes agent.yml from what it can take of the hub’s suggestion, and drops the rest', async () => {
  hub.suggestedAllow = { gitBaseUrls: ['https://git.example.com/', 'file:///etc/', 'git://evil.example/'], branches: ['main', '*', 'refs/pull/1/head'], repositories: ['acme/*', 'acme shop/*'] };
  const dir = join(root, 'suggested');
  const enrolled = await enrollAgent({ hub: hub.url, token: 'tok', name: 'web-1', labels: {}, dir, log: silentLogger() });
  expect(enrolled.agentYml).toMatchObject({ file: join(dir, 'agent.yml'), written: true, dropped: ['git base URL "file:///etc/"', 'git base URL "git://evil.example/"', 'branch "*"', 'branch "refs/pull/1/head"', 'repository "acme shop/*"'] });
  const config = await loadAgentConfig(dir);
  expect(config.allow).toEqual({ gitBaseUrls: ['https://git.example.com/'], branches: ['main'], instructions: ['bitenvoy.yml'], repositories: ['acme/*'] });
  expect(config.warnings).toEqual([]);
  expect((await stat(join(dir, 'agent.yml'))).mode & 0o777).toBe(0o600);
});

it('pins empty lists when the hub suggests nothing and no flag says: the agent starts, refuses every job, and says so', async () => {
  const dir = join(root, 'nothing');
  await enrollAgent({ hub: hub.url, token: 'tok', name: 'web-1', labels: {}, dir, log: silentLogger() });
  const config = await loadAgentConfig(dir);
  expect(config.allow).toEqual({ gitBaseUrls: [], branches: [], instructions: ['bitenvoy.yml'] });
  expect(config.warnings).toEqual([
    `${join(dir, 'agent.yml')} has an empty allow.gitBaseUrls: every job is refused. Add where your repositories live, e.g. \`gitBaseUrls: [https://github.com/]\`, and restart the agent`,
    `${join(dir, 'agent.yml')} has an empty allow.branches: every job is refused. Add the branches your environments deploy, e.g. \`branches: [main]\`, and restart the agent`,
    `${join(dir, 'agent.yml')} has no allow.repositories: this agent deploys any repository the hub names on an allowed git host (any public one on github.com), so a hub that has been tampered with can run code of its choosing here. Add your organisations under \`allow:\`, e.g. \`repositories: [acme/*]\`, and restart the agent`,
  ]);
});

it('reads the owner’s edits of agent.yml at the next start, never a stale checked copy', async () => {
  hub.suggestedAllow = { gitBaseUrls: ['https://github.com/'], branches: ['main'] };
  const dir = join(root, 'edited');
  await enrollAgent({ hub: hub.url, token: 'tok', name: 'web-1', labels: {}, dir, log: silentLogger() });
  // Enrollment checked the file it wrote: the first start does not need the validator.
  expect(JSON.parse(await readFile(join(dir, CHECKED_FILE), 'utf8')).value.allow.branches).toEqual(['main']);
  await writeFile(join(dir, 'agent.yml'), 'allow:\n  gitBaseUrls: [https://github.com/]\n  branches: [production]\n');
  expect((await loadAgentConfig(dir)).allow.branches).toEqual(['production']);
  await writeFile(join(dir, 'agent.yml'), 'allow:\n  branches: [refs/pull/*]\n');
  await expect(loadAgentConfig(dir)).rejects.toThrow(/agent\.yml is not valid; the agent will not start until it is:\n.*`allow\.branches\[0\]`: expected a branch name like `main`, or a prefix ending in `\*` like `release\/\*` \(nothing under `refs\/`\), got `refs\/pull\/\*`/);
  // A damaged checked copy is only a cache: the file is checked again.
  await writeFile(join(dir, 'agent.yml'), 'allow:\n  gitBaseUrls: [https://github.com/]\n  branches: [main]\n');
  await writeFile(join(dir, CHECKED_FILE), '{not json');
  expect((await loadAgentConfig(dir)).allow.branches).toEqual(['main']);
});
