/**
 * Hub nonces on a real SQLite store: unguessable, single use, short-lived, bound to the agent that asked — and two
 * requests racing with one nonce cannot both spend it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumeNonce, issueNonce, type NonceRecord } from '../../app/cloud/attest-nonce.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-nonce-'));
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('issueNonce', () => {
  it('makes 128-bit base64url nonces, and 10-digit ones for Azure (what its IMDS accepts)', async () => {
    const { nonce, expiresAt } = await issueNonce(store, 'ag_1', { provider: 'gcp', now: NOW });
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(expiresAt).toBe('2026-11-25T12:05:00.000Z');
    expect((await issueNonce(store, 'ag_1', { provider: 'azure', now: NOW })).nonce).toMatch(/^\d{10}$/);
  });

  it('never repeats, and keeps only a hash of the nonce in the store', async () => {
    const nonces = await Promise.all(Array.from({ length: 50 }, () => issueNonce(store, 'ag_1', { now: NOW })));
    expect(new Set(nonces.map((n) => n.nonce)).size).toBe(50);
    const stored = await store.list<NonceRecord>('attest-nonce:');
    expect(stored).toHaveLength(50);
    for (const { key } of stored) expect(key).toMatch(/^attest-nonce:[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(nonces[0]!.nonce);
  });
});

describe('consumeNonce', () => {
  it('spends a nonce once, for the agent it was issued to', async () => {
    const { nonce } = await issueNonce(store, 'ag_1', { now: NOW });
    expect(await consumeNonce(store, nonce, 'ag_1', NOW + 1000)).toBeUndefined();
    const again = await consumeNonce(store, nonce, 'ag_1', NOW + 2000);
    expect(again).toEqual({ reason: 'wrong-nonce', message: expect.stringMatching(/already used at 2026-11-25T12:00:01.000Z; each nonce works once; ask the hub for a new nonce/) });
  });

  it.each<[string, (nonce: string) => ReturnType<typeof consumeNonce>, RegExp]>([
    ['by another agent', (nonce) => consumeNonce(store, nonce, 'ag_2', NOW + 1000), /issued to another agent/],
    ['after it expired', (nonce) => consumeNonce(store, nonce, 'ag_1', NOW + 5 * 60_000), /expired at 2026-11-25T12:05:00.000Z \(nonces live 300 s\)/],
    ['when never issued', () => consumeNonce(store, 'x'.repeat(22), 'ag_1', NOW), /unknown to this hub/],
    ['when missing', () => consumeNonce(store, undefined, 'ag_1', NOW), /no hub nonce was sent/],
    ['when not a nonce at all', () => consumeNonce(store, '../../etc', 'ag_1', NOW), /no hub nonce was sent/],
  ])('refuses a nonce used %s', async (_name, use, message) => {
    const { nonce } = await issueNonce(store, 'ag_1', { now: NOW });
    const refusal = await use(nonce);
    expect(refusal?.reason).toBe('wrong-nonce');
    expect(refusal?.message).toMatch(message);
  });

  it('is not burnt by another agent\'s attempt', async () => {
    const { nonce } = await issueNonce(store, 'ag_1', { now: NOW });
    expect(await consumeNonce(store, nonce, 'ag_2', NOW)).toBeDefined();
    expect(await consumeNonce(store, nonce, 'ag_1', NOW)).toBeUndefined();
  });

  it('lets exactly one of many racing requests spend a nonce', async () => {
    const { nonce } = await issueNonce(store, 'ag_1', { now: NOW });
    const results = await Promise.all(Array.from({ length: 10 }, () => consumeNonce(store, nonce, 'ag_1', NOW)));
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
    expect(results.filter((r) => r?.message.includes('already used'))).toHaveLength(9);
  });

  it('survives a store reopen (a hub restart) with its state', async () => {
    const { nonce } = await issueNonce(store, 'ag_1', { now: Date.now() });
    await store.close();
    store = await openStore({ dataDir: dir });
    expect(await consumeNonce(store, nonce, 'ag_1')).toBeUndefined();
    expect((await consumeNonce(store, nonce, 'ag_1'))?.message).toMatch(/already used/);
  });
});
