/**
 * The instance ↔ agent registry on a real SQLite store: one instance, one agent (also when two race for it), fresh
 * evidence refreshes a binding, older evidence is a replay, another instance quarantines the agent until unbound.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProvedIdentity } from '../../app/cloud/cloud-instance.js';
import { IdentityBindings, type BindResult } from '../../app/cloud/identity-bindings.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const proved = (instanceId: string, issuedAt = '2026-11-25T11:50:00.000Z'): ProvedIdentity => ({
  provider: 'aws',
  account: '123456789012',
  instanceId,
  region: 'eu-west-1',
  zone: 'eu-west-1a',
  issuedAt,
});

let dir: string;
let store: Store;
let bindings: IdentityBindings;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-bindings-'));
  store = await openStore({ dataDir: dir });
  bindings = new IdentityBindings(store);
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `fn` after `turns` turns of the event loop (0: in this tick). */
async function later<T>(turns: number, fn: () => Promise<T>): Promise<T> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  return fn();
}

function refusalOf(result: BindResult) {
  expect(result.bound).toBe(false);
  return result.bound ? undefined : result.refusal;
}

describe('IdentityBindings', () => {
  it('binds an agent to the instance it proved', async () => {
    const result = await bindings.bind('ag_1', proved('i-0aaa'), { agentName: 'web-1', now: NOW });
    expect(result).toEqual({
      bound: true,
      binding: { agentId: 'ag_1', agentName: 'web-1', identity: proved('i-0aaa'), boundAt: '2026-11-25T12:00:00.000Z', attestedAt: '2026-11-25T12:00:00.000Z', claimToken: expect.any(String) },
    });
    expect(await bindings.bindingOf('ag_1')).toEqual(result.bound && result.binding);
    expect(await bindings.provedIdentities()).toEqual(new Map([['ag_1', proved('i-0aaa')]]));
  });

  it('refuses a second agent for a bound instance, naming the holder and the fix', async () => {
    await bindings.bind('ag_1', proved('i-0aaa'), { agentName: 'web-1', now: NOW });
    const refusal = refusalOf(await bindings.bind('ag_2', proved('i-0aaa'), { agentName: 'web-2', now: NOW + 1000 }));
    expect(refusal?.reason).toBe('already-bound');
    expect(refusal?.message).toBe(
      'instance aws/123456789012/i-0aaa is already bound to agent web-1 (ag_1) since 2026-11-25T12:00:00.000Z; one instance runs one agent. ' +
        'If this agent replaces web-1 (reinstalled or re-enrolled), unbind the old one with `bitenvoy agents unbind web-1` and attest again; ' +
        "if web-1 still runs there, this agent's evidence was copied from that instance — do not trust it",
    );
    expect(await bindings.bindingOf('ag_2')).toBeUndefined();
  });

  it('lets exactly one of many agents racing for one instance bind it', async () => {
    const agents = Array.from({ length: 8 }, (_, i) => `ag_${i}`);
    const results = await Promise.all(agents.map((id) => bindings.bind(id, proved('i-0aaa'), { now: NOW })));
    const winners = results.filter((r) => r.bound);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => !r.bound && r.refusal.reason === 'already-bound')).toHaveLength(7);
    expect((await bindings.provedIdentities()).size).toBe(1);
  });

  it('lets exactly one win when two hub processes share the store file', async () => {
    const other = await openStore({ dataDir: dir });
    try {
      const replica = new IdentityBindings(other);
      const results = await Promise.all([
        bindings.bind('ag_1', proved('i-0aaa'), { now: NOW }),
        replica.bind('ag_2', proved('i-0aaa'), { now: NOW }),
        bindings.bind('ag_3', proved('i-0aaa'), { now: NOW }),
        replica.bind('ag_4', proved('i-0aaa'), { now: NOW }),
      ]);
      expect(results.filter((r) => r.bound)).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('records a re-attestation of the same instance, with newer evidence', async () => {
    await bindings.bind('ag_1', proved('i-0aaa'), { now: NOW });
    const again = await bindings.bind('ag_1', proved('i-0aaa', '2026-11-25T12:30:00.000Z'), { now: NOW + 3600_000 });
    expect(again).toMatchObject({ bound: true, binding: { boundAt: '2026-11-25T12:00:00.000Z', attestedAt: '2026-11-25T13:00:00.000Z', identity: { issuedAt: '2026-11-25T12:30:00.000Z' } } });
    // The same evidence again (an AWS document does not change while the instance runs) is fine too.
    expect((await bindings.bind('ag_1', proved('i-0aaa', '2026-11-25T12:30:00.000Z'), { now: NOW + 7200_000 })).bound).toBe(true);
  });

  it('refuses evidence older than what it already accepted as a replay', async () => {
    await bindings.bind('ag_1', proved('i-0aaa', '2026-11-25T11:50:00.000Z'), { now: NOW });
    const refusal = refusalOf(await bindings.bind('ag_1', proved('i-0aaa', '2026-11-20T08:00:00.000Z'), { now: NOW + 1000 }));
    expect(refusal?.reason).toBe('replayed');
    expect(refusal?.message).toMatch(/made at 2026-11-20T08:00:00.000Z is older than the evidence the hub already accepted \(2026-11-25T11:50:00.000Z\)/);
  });

  it('quarantines an agent that proves another instance, until an operator unbinds it', async () => {
    await bindings.bind('ag_1', proved('i-0aaa'), { agentName: 'web-1', now: NOW });
    const moved = refusalOf(await bindings.bind('ag_1', proved('i-0bbb'), { agentName: 'web-1', now: NOW + 1000 }));
    expect(moved?.reason).toBe('quarantined');
    expect(moved?.message).toBe(
      'agent web-1 (ag_1) is bound to aws/123456789012/i-0aaa but proved aws/123456789012/i-0bbb at 2026-11-25T12:00:01.000Z, and is quarantined since 2026-11-25T12:00:01.000Z: ' +
        'its credential may have been copied to another machine, or its disk moved to a new instance. ' +
        'It gets no cloud identity until an operator checks the server and unbinds it with `bitenvoy agents unbind web-1`; then it attests afresh',
    );
    // State is kept: the old identity, what it claimed, since when. It has no proved identity meanwhile.
    expect(await bindings.bindingOf('ag_1')).toMatchObject({ identity: proved('i-0aaa'), quarantine: { since: '2026-11-25T12:00:01.000Z', claimed: proved('i-0bbb') } });
    expect(await bindings.provedIdentities()).toEqual(new Map());
    expect(await bindings.quarantined()).toEqual(new Map([['ag_1', expect.stringMatching(/^quarantined since 2026-11-25T12:00:01.000Z: agent web-1 \(ag_1\) is bound to /)]]));
    // Proving the original instance again does not lift it; nor does anything but unbinding.
    expect(refusalOf(await bindings.bind('ag_1', proved('i-0aaa'), { now: NOW + 2000 }))?.reason).toBe('quarantined');
    // The old instance stays claimed: another agent cannot take it while the quarantine is looked at.
    expect(refusalOf(await bindings.bind('ag_2', proved('i-0aaa'), { now: NOW + 3000 }))?.reason).toBe('already-bound');

    expect(await bindings.unbind('ag_1')).toBe(true);
    expect(await bindings.bindingOf('ag_1')).toBeUndefined();
    expect(await bindings.quarantined()).toEqual(new Map());
    expect((await bindings.bind('ag_1', proved('i-0bbb'), { now: NOW + 4000 })).bound).toBe(true);
    expect((await bindings.bind('ag_2', proved('i-0aaa'), { now: NOW + 5000 })).bound).toBe(true);
  });

  it('unbinding frees the instance for a replacement agent', async () => {
    await bindings.bind('ag_1', proved('i-0aaa'), { now: NOW });
    expect(await bindings.unbind('ag_1')).toBe(true);
    expect(await bindings.unbind('ag_1')).toBe(false);
    expect((await bindings.bind('ag_2', proved('i-0aaa'), { now: NOW })).bound).toBe(true);
  });

  it('keeps one instance per agent even when the same agent proves two instances at once', async () => {
    const [a, b] = await Promise.all([bindings.bind('ag_1', proved('i-0aaa'), { now: NOW }), bindings.bind('ag_1', proved('i-0bbb'), { now: NOW })]);
    expect([a.bound, b.bound].filter(Boolean)).toHaveLength(1);
    expect([a, b].find((r) => !r.bound)).toMatchObject({ refusal: { reason: 'quarantined' } });
    // The loser's claim was released: only the winner's instance is held.
    const claims = await store.list<{ agentId: string; releasedAt?: string }>('cloud-instance:');
    expect(claims.filter((c) => !c.value.releasedAt)).toHaveLength(1);
  });

  it('lets another agent take over a claim no binding stands on (a crash between the two writes) only once it is old', async () => {
    await store.set('cloud-instance:aws/123456789012/i-0aaa', { agentId: 'ag_1', since: '2026-11-25T12:00:00.000Z', token: 'left-by-a-crash' });
    expect(await bindings.bindingOf('ag_1')).toBeUndefined();
    // Within a minute it may be a binding in progress: hands off.
    expect(refusalOf(await bindings.bind('ag_2', proved('i-0aaa'), { now: NOW + 30_000 }))?.reason).toBe('already-bound');
    expect((await bindings.bind('ag_2', proved('i-0aaa'), { now: NOW + 61_000 })).bound).toBe(true);
    expect(await bindings.provedIdentities()).toEqual(new Map([['ag_2', proved('i-0aaa')]]));
  });

  it('treats the same instance id in another account or provider as another instance', async () => {
    await bindings.bind('ag_1', proved('i-0aaa'), { now: NOW });
    expect((await bindings.bind('ag_2', { ...proved('i-0aaa'), account: '210987654321' }, { now: NOW })).bound).toBe(true);
  });

  it('never leaves an instance bound to two agents when an operator unbinds an agent during its first binding (200 races)', async () => {
    const outcomes = new Map<string, number>();
    for (let n = 0; n < 200; n++) {
      const instance = proved(`i-race${n}`);
      const [first, old, replacement] = [`ag_first_${n}`, `ag_old_${n}`, `ag_new_${n}`];
      // Race 1: the agent's first binding and its unbinding start in the same tick — or, to reach other interleavings
      // of their store reads and writes, the unbind a few event-loop turns later.
      const [bound] = await Promise.all([bindings.bind(first, instance, { now: NOW }), later(n % 7, () => bindings.unbind(first))]);
      // Then a replacement agent tries the same instance.
      const second = await bindings.bind(`${first}_b`, instance, { now: NOW + 1000 });
      // Race 2: an agent re-attests the instance it holds while an operator unbinds it to make room for a replacement.
      await bindings.bind(old, proved(`i-held${n}`), { now: NOW });
      await Promise.all([bindings.bind(old, proved(`i-held${n}`, '2026-11-25T11:55:00.000Z'), { now: NOW + 500 }), later((n >> 3) % 7, () => bindings.unbind(old))]);
      const third = await bindings.bind(replacement, proved(`i-held${n}`), { now: NOW + 1000 });

      const holders = async (key: string) => {
        const ids = await bindings.provedIdentities();
        const stored = await Promise.all([first, `${first}_b`, old, replacement].map((id) => bindings.bindingOf(id)));
        return {
          proved: [...ids].filter(([, identity]) => identity.instanceId === key).map(([id]) => id),
          stored: stored.filter((b) => b?.identity.instanceId === key).map((b) => b!.agentId),
        };
      };
      for (const key of [`i-race${n}`, `i-held${n}`]) {
        const { proved: ids, stored } = await holders(key);
        expect(ids.length, `${key}: bound to ${ids.join(' and ')}`).toBeLessThanOrEqual(1);
        // No orphan either: whoever lost, the instance is bound to exactly one agent in the end.
        expect(stored, `${key}: binding records`).toEqual(ids);
        expect(ids).toHaveLength(1);
      }
      const key = `${bound.bound ? 'bind' : 'unbind'} won, replacement ${second.bound ? 'bound' : 'refused'}; held: replacement ${third.bound ? 'bound' : 'refused'}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    console.log(`unbind/bind races: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  }, 120_000);
});
