/**
 * PostgreSQL going away under a running hub (the network to it cut, through a TCP proxy in between): requests that
 * need the store are answered 503 with what is wrong, /readyz says so, /livez stays up, nothing is half-written, and
 * once the database is back the hub serves again by itself — no restart.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCuttableTcpProxy, type CuttableTcpProxy } from '../../testbed/cuttable-tcp-proxy.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';
import { STORE_BACKENDS, TEST_DATABASE_URL, createTestDatabase, databaseUrl, dropTestDatabase } from '../helpers/store-backends.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;

describe.runIf(!postgres.unavailable)('the store going away', () => {
  const database = `bitenvoy_test_${randomBytes(6).toString('hex')}`;
  let proxy: CuttableTcpProxy;
  let t: TestHub;

  beforeAll(async () => {
    await createTestDatabase(database);
    const real = new URL(TEST_DATABASE_URL);
    proxy = await startCuttableTcpProxy({ host: real.hostname, port: Number(real.port || 5432) });
    const url = new URL(databaseUrl(database));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    t = await startTestHub({ BITENVOY_DATABASE_URL: url.toString() });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await dropTestDatabase(database);
  });

  it('answers 503 saying the store does not answer, keeps /livez, and serves again by itself once it is back', async () => {
    expect((await t.call('GET', '/api/v1/deployments', { token: ADMIN_TOKEN })).status).toBe(200);
    proxy.cut();
    const down = await t.call('GET', '/api/v1/deployments', { token: ADMIN_TOKEN });
    expect(down.status).toBe(503);
    expect(down.json.error.code).toBe('BE_STORE_UNAVAILABLE');
    expect(down.json.error.message).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+/);
    expect(down.json.error.message).toMatch(/is PostgreSQL running there|the hub reconnects on the next request/);
    const ready = await t.call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json.problem).toMatch(/^the store does not answer: /);
    expect((await t.call('GET', '/livez')).status).toBe(200);
    // A write while it is away is refused the same way (its transaction never reached the database).
    const enroll = await t.call('POST', '/api/v1/enrollment-tokens', { token: ADMIN_TOKEN, body: { ttlSeconds: 600 } });
    expect(enroll.status).toBe(503);

    proxy.restore();
    let back = 0;
    for (let i = 0; i < 50 && back !== 200; i++) {
      back = (await t.call('GET', '/api/v1/deployments', { token: ADMIN_TOKEN })).status;
      if (back !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(back).toBe(200);
    expect((await t.call('GET', '/readyz')).status).toBe(200);
    expect((await t.call('POST', '/api/v1/enrollment-tokens', { token: ADMIN_TOKEN, body: { ttlSeconds: 600 } })).status).toBe(201);
  }, 60_000);
});
