/**
 * With GitHub App credentials the hub answers the webhook path through Probot's middleware, which needs the raw
 * body to check the signature: a correctly signed delivery is accepted, a forged one refused.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { startTestHub, type TestHub } from '../helpers/test-hub.js';

const SECRET = 'webhook-secret-for-tests';
// GitHub's own example payloads (the package ships them as one JSON index).
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: unknown[] }>;
const pushEvent = examples.find((e) => e.name === 'push')!.examples[0];
let t: TestHub;

beforeAll(async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  t = await startTestHub({ APP_ID: '123', PRIVATE_KEY: privateKey, WEBHOOK_SECRET: SECRET });
});
afterAll(async () => t?.close());

async function deliver(body: string, signature: string): Promise<number> {
  const res = await fetch(`${t.url}/api/github/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd-1', 'x-hub-signature-256': signature },
    body,
  });
  await res.text();
  return res.status;
}

it('accepts a signed delivery and refuses a forged one', async () => {
  // Whitespace matters to the signature: the middleware must see the body byte for byte.
  const body = JSON.stringify(pushEvent, null, 2);
  const good = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  expect(await deliver(body, good)).toBe(200);
  expect(await deliver(body, `sha256=${'0'.repeat(64)}`)).toBeGreaterThanOrEqual(400);
  expect((await t.call('GET', '/healthz')).json.mode).toBe('github');
});
