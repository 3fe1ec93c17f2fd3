/**
 * Webhook deliveries are handled once across hub replicas: two webhook handlers (two replicas) remember delivery ids
 * in one store, on SQLite and on PostgreSQL; a redelivery of one whose handling failed is handled again, and a copy
 * of one whose replica stopped while handling it is handled once that replica's claim runs out.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Probot, ProbotOctokit } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubWebhookHandler, storeDeliveryLog } from '../../app/github/webhook-handler.js';
import type { Store } from '../../app/store/store.js';
import { silentLogger } from '../../lib/logger.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

const SECRET = 'dedupe-secret';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  const servers: Server[] = [];
  let handled: string[];
  let failNext: boolean;

  beforeEach(() => {
    handled = [];
    failNext = false;
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  /** One replica's webhook endpoint on `store`. */
  async function replica(store: Store, timing: { deliveryClaimMs?: number; deliveryRecheckMs?: number } = {}): Promise<string> {
    const probot = new Probot({ appId: 1, privateKey, secret: SECRET, log: silentLogger(), Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
    const handle = await createGitHubWebhookHandler({
      probot,
      secret: SECRET,
      log: silentLogger(),
      deliveries: storeDeliveryLog(store),
      ...timing,
      appFn: (app) => {
        app.on('push', async (context) => {
          handled.push(context.id);
          if (failNext) {
            failNext = false;
            throw new Error('the handler broke');
          }
        });
      },
    });
    const server = createServer(handle);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  }

  async function deliver(url: string, id: string): Promise<{ status: number; json: { ok?: boolean; note?: string } }> {
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': id, 'x-hub-signature-256': signature }, body });
    return { status: res.status, json: (await res.json()) as { ok?: boolean; note?: string } };
  }

  it('handles a delivery once, whichever replica it reaches and however often', async () => {
    const a = await replica(stores.store);
    const b = await replica(await stores.open());
    expect(await deliver(a, 'd-1')).toEqual({ status: 200, json: { ok: true } });
    expect(await deliver(b, 'd-1')).toEqual({ status: 200, json: { ok: true, note: 'already handled' } });
    expect(await deliver(a, 'd-1')).toEqual({ status: 200, json: { ok: true, note: 'already handled' } });
    // Both at once: still once. The second copy is "already handled", or "being handled" (202) while the first runs.
    const both = await Promise.all([deliver(a, 'd-2'), deliver(b, 'd-2')]);
    expect(both.map((r) => r.status).sort()).toEqual(expect.arrayContaining([200]));
    expect(both.every((r) => r.status === 200 || (r.status === 202 && r.json.note === 'being handled'))).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(handled).toEqual(['d-1', 'd-2']);
  });

  it('handles a copy of a delivery whose replica stopped while handling it, once its claim ran out', async () => {
    // A replica took d-4 and died before handling it (its claim, 400 ms, is never renewed nor marked done).
    expect(await storeDeliveryLog(stores.store).take('d-4', 400)).toEqual({ state: 'taken' });
    const b = await replica(await stores.open(), { deliveryClaimMs: 400, deliveryRecheckMs: 50 });
    expect(await deliver(b, 'd-4')).toEqual({ status: 202, json: { ok: true, note: 'being handled' } });
    expect(handled).toEqual([]);
    for (let i = 0; i < 100 && !handled.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(handled).toEqual(['d-4']);
    // Marked done there: another copy is answered "already handled".
    for (let i = 0; i < 50 && (await stores.store.get<{ state?: string }>('webhook-delivery:d-4'))?.state !== 'done'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await deliver(b, 'd-4')).toEqual({ status: 200, json: { ok: true, note: 'already handled' } });
    expect(handled).toEqual(['d-4']);
  });

  it('keeps the claim of a delivery whose handling runs long, so no copy is handled meanwhile', async () => {
    const log = storeDeliveryLog(stores.store);
    expect(await log.take('d-5', 300)).toEqual({ state: 'taken' });
    await log.renew('d-5', 300);
    expect(await log.take('d-5', 300)).toMatchObject({ state: 'busy' });
    await log.done('d-5');
    expect(await log.take('d-5', 300)).toEqual({ state: 'done' });
    // A record an earlier release wrote (no state) counts as done.
    await stores.store.set('webhook-delivery:d-6', { at: new Date().toISOString() });
    expect(await log.take('d-6', 300)).toEqual({ state: 'done' });
  });

  it('handles a redelivery again when the first handling failed', async () => {
    const a = await replica(stores.store);
    const b = await replica(await stores.open());
    failNext = true;
    expect((await deliver(a, 'd-3')).status).toBe(500);
    // The failed delivery's id is given back (in the background): the redelivery is handled.
    for (let i = 0; i < 50 && (await stores.store.get('webhook-delivery:d-3')); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await deliver(b, 'd-3')).toEqual({ status: 200, json: { ok: true } });
    expect(handled).toEqual(['d-3', 'd-3']);
  });
});
