/**
 * Reading the hub's environment: defaults, the generated admin token, GitHub credentials, and refusals that name
 * the variable, the value and what is expected.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { HUB_VARIABLES, readHubSettings } from '../app/hub-settings.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-settings-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

it('has defaults for everything and runs in local mode without GitHub credentials', () => {
  const s = readHubSettings({ BITENVOY_DATA_DIR: dir });
  expect(s).toMatchObject({
    port: 3000,
    host: undefined,
    webhookPath: '/api/github/webhooks',
    logLevel: 'info',
    dataDir: dir,
    publicUrl: 'http://localhost:3000',
    configRepo: undefined,
    configRefreshSeconds: 60,
    leaseSeconds: 60,
    heartbeatSeconds: 60,
    pollWaitSeconds: 50,
    github: undefined,
  });
});

it('generates the admin token once, keeps it private, and reuses it', async () => {
  const first = readHubSettings({ BITENVOY_DATA_DIR: dir }).adminToken;
  expect(first).toMatch(/^bt_admin_[A-Za-z0-9_-]{32}$/);
  expect((await stat(join(dir, 'admin-token'))).mode & 0o777).toBe(0o600);
  expect(readHubSettings({ BITENVOY_DATA_DIR: dir }).adminToken).toBe(first);
  expect(readHubSettings({ BITENVOY_DATA_DIR: dir, BITENVOY_ADMIN_TOKEN: 'mine' }).adminToken).toBe('mine');
});

it('builds the public URL from HOST and PORT unless set, without a trailing slash', () => {
  expect(readHubSettings({ BITENVOY_DATA_DIR: dir, HOST: '10.0.0.5', PORT: '8080' }).publicUrl).toBe('http://10.0.0.5:8080');
  expect(readHubSettings({ BITENVOY_DATA_DIR: dir, HOST: '0.0.0.0', PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
  expect(readHubSettings({ BITENVOY_DATA_DIR: dir, BITENVOY_PUBLIC_URL: 'https://hub.example.com/' }).publicUrl).toBe('https://hub.example.com');
});

it('turns GitHub mode on only with app id, private key and webhook secret', async () => {
  const keyFile = join(dir, 'app.pem');
  await writeFile(keyFile, '-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n');
  const base = { BITENVOY_DATA_DIR: dir, APP_ID: '42', WEBHOOK_SECRET: 's' };
  expect(readHubSettings({ ...base }).github).toBeUndefined();
  // A half-configured App is named, so the hub can say what is missing; nothing set at all is plain local mode.
  expect(readHubSettings({ ...base }).githubMissing).toEqual(['PRIVATE_KEY (or PRIVATE_KEY_PATH)']);
  expect(readHubSettings({ BITENVOY_DATA_DIR: dir, WEBHOOK_SECRET: 's' }).githubMissing).toEqual(['APP_ID', 'PRIVATE_KEY (or PRIVATE_KEY_PATH)']);
  expect(readHubSettings({ BITENVOY_DATA_DIR: dir }).githubMissing).toEqual([]);
  expect(readHubSettings({ ...base, PRIVATE_KEY: 'k' }).githubMissing).toEqual([]);
  expect(readHubSettings({ ...base, PRIVATE_KEY_PATH: keyFile }).github).toEqual({
    appId: '42',
    webhookSecret: 's',
    privateKey: '-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n',
  });
  // A key pasted into one line with literal \n keeps working, as in Probot.
  const inline = readHubSettings({ ...base, PRIVATE_KEY: 'line1\\nline2', GHE_HOST: 'ghe.example.com' }).github;
  expect(inline).toEqual({ appId: '42', webhookSecret: 's', privateKey: 'line1\nline2', baseUrl: 'https://ghe.example.com/api/v3' });
});

it.each([
  ['PORT', 'eighty', /^PORT=eighty: expected a whole number from 0 to 65535$/],
  ['PORT', '70000', /^PORT=70000: expected a whole number/],
  ['BITENVOY_POLL_WAIT_SECONDS', '51', /^BITENVOY_POLL_WAIT_SECONDS=51: expected a whole number from 1 to 50$/],
  ['BITENVOY_LEASE_SECONDS', '0', /^BITENVOY_LEASE_SECONDS=0: expected a whole number from 1/],
  ['BITENVOY_HEARTBEAT_SECONDS', '1.5', /^BITENVOY_HEARTBEAT_SECONDS=1\.5: expected a whole number/],
  ['BITENVOY_CONFIG_REFRESH_SECONDS', '-1', /^BITENVOY_CONFIG_REFRESH_SECONDS=-1: expected a whole number/],
  ['BITENVOY_PUBLIC_URL', 'hub.example.com', /^BITENVOY_PUBLIC_URL=hub\.example\.com: expected an http:\/\/ or https:\/\/ URL$/],
  ['GHE_PROTOCOL', 'ftp', /^GHE_PROTOCOL=ftp: expected `https` or `http`$/],
])('refuses %s=%s naming the variable, the value and what is expected', (name, value, message) => {
  expect(() => readHubSettings({ BITENVOY_DATA_DIR: dir, BITENVOY_ADMIN_TOKEN: 't', [name]: value })).toThrow(message);
});

it('says which private key file it cannot read', () => {
  const missing = join(dir, 'nope.pem');
  expect(() => readHubSettings({ BITENVOY_DATA_DIR: dir, PRIVATE_KEY_PATH: missing })).toThrow(`PRIVATE_KEY_PATH=${missing}: cannot read it`);
});

it('documents every variable it reads', async () => {
  const source = await readFile(new URL('../app/hub-settings.ts', import.meta.url), 'utf8');
  const read = new Set([...source.matchAll(/env(?:\.|, ')([A-Z][A-Z_]+)/g)].map((m) => m[1]));
  const documented = new Set(HUB_VARIABLES.flatMap(([names]) => names.split(' / ')));
  expect([...read].filter((name) => !documented.has(name))).toEqual([]);
  expect(read.size).toBeGreaterThan(10);
});
