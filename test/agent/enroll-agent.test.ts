import { stat, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { enrollAgent, parseLabels } from '../../agent/enroll-agent.js';
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
