/**
 * The discovery loop on a real SQLite store with scopes played in-process: only complete listings are kept, a
 * failure keeps the last good one and backs off (as long as a throttling provider asked), a restart keeps listings,
 * and a hanging provider delays a plan by the timeout at most.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudDiscovery } from '../../app/cloud/cloud-discovery.js';
import { ThrottledError, type CloudInstance, type DiscoveryScope } from '../../app/cloud/cloud-instance.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { silentLogger } from '../../lib/logger.js';

let dir: string;
let store: Store;
let now: number;
const running: CloudDiscovery[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-discovery-'));
  store = await openStore({ dataDir: dir });
  now = Date.parse('2026-11-25T12:00:00Z');
});
afterEach(async () => {
  for (const d of running.splice(0)) d.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const instance = (id: string): CloudInstance => ({ provider: 'aws', account: '1', region: 'eu-west-1', instanceId: id, tags: {} });

/** A scope whose next answers the test queues: instances, or an error to throw. */
function scriptedScope(id = 'aws/1/eu-west-1') {
  const answers: Array<CloudInstance[] | Error | 'hang'> = [];
  let calls = 0;
  const scope: DiscoveryScope = {
    id,
    provider: 'aws',
    list: async () => {
      calls++;
      const next = answers.shift() ?? [];
      if (next === 'hang') return new Promise<CloudInstance[]>(() => {});
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { scope, answers, calls: () => calls };
}

function discovery(scopes: DiscoveryScope[]): CloudDiscovery {
  const d = new CloudDiscovery({ scopes: scopes.map((s) => ({ ...s, account: '1', region: 'eu-west-1' })), store, log: silentLogger(), intervalMs: 300_000, now: () => now, random: () => 0.5 });
  running.push(d);
  return d;
}

describe('CloudDiscovery', () => {
  it('keeps the last complete listing through failures, and says what failed', async () => {
    const s = scriptedScope();
    s.answers.push([instance('i-1'), instance('i-2')], new Error('AccessDenied: the hub needs ec2:DescribeInstances'));
    const d = discovery([s.scope]);
    await d.start();
    expect(d.states()[0]).toMatchObject({ id: 'aws/1/eu-west-1', account: '1', region: 'eu-west-1', lastGood: { at: '2026-11-25T12:00:00.000Z', instances: [{ instanceId: 'i-1' }, { instanceId: 'i-2' }] } });
    now += 60_000;
    await d.refreshBeforePlan(1000);
    expect(d.states()[0]!.lastGood!.instances).toHaveLength(2);
    expect(d.states()[0]!.lastGood!.at).toBe('2026-11-25T12:00:00.000Z');
    expect(d.states()[0]!.lastError).toEqual({ at: '2026-11-25T12:01:00.000Z', message: 'AccessDenied: the hub needs ec2:DescribeInstances' });
  });

  it('backs off after errors, and for as long as a throttling provider asks', async () => {
    const s = scriptedScope();
    s.answers.push(new Error('boom'), new ThrottledError('RequestLimitExceeded', 90_000), [instance('i-1')]);
    const d = discovery([s.scope]);
    await d.start();
    expect(s.calls()).toBe(1);
    now += 4_000; // the first backoff is 5 s
    await d.refreshBeforePlan(1000);
    expect(s.calls()).toBe(1);
    now += 2_000;
    await d.refreshBeforePlan(1000);
    expect(s.calls()).toBe(2); // throttled now: 90 s
    now += 89_000;
    await d.refreshBeforePlan(1000);
    expect(s.calls()).toBe(2);
    now += 2_000;
    await d.refreshBeforePlan(1000);
    expect(s.calls()).toBe(3);
    expect(d.states()[0]!.lastError).toBeUndefined();
    expect(d.states()[0]!.lastGood!.instances.map((i) => i.instanceId)).toEqual(['i-1']);
  });

  it('a restarted hub keeps the listings, with their real age', async () => {
    const s = scriptedScope();
    s.answers.push([instance('i-1')]);
    await discovery([s.scope]).start();
    now += 600_000;
    const again = scriptedScope();
    again.answers.push(new Error('the provider is down'));
    const restarted = discovery([again.scope]);
    await restarted.start();
    expect(restarted.states()[0]).toMatchObject({ lastGood: { at: '2026-11-25T12:00:00.000Z', instances: [{ instanceId: 'i-1' }] }, lastError: { message: 'the provider is down' } });
  });

  it('a hanging provider delays a plan by the timeout at most, and is asked once however many plans wait', async () => {
    const s = scriptedScope();
    s.answers.push([instance('i-1')], 'hang');
    const d = discovery([s.scope]);
    await d.start();
    const started = Date.now();
    await Promise.all([d.refreshBeforePlan(300), d.refreshBeforePlan(300)]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(s.calls()).toBe(2);
    expect(d.states()[0]!.lastGood!.instances).toHaveLength(1);
  });

  it('on a replica that does not lead, reads the leader\'s listing from the store at each turn instead of calling the provider', async () => {
    const leaderScope = scriptedScope();
    const followerScope = scriptedScope();
    leaderScope.answers.push([instance('i-1')], ...Array.from({ length: 100 }, () => [instance('i-1'), instance('i-2')]));
    followerScope.answers.push([instance('i-1')]);
    const make = (scope: DiscoveryScope, leading: boolean) => {
      const d = new CloudDiscovery({ scopes: [{ ...scope, account: '1', region: 'eu-west-1' }], store, log: silentLogger(), intervalMs: 40, now: () => now, random: () => 0.5, leading: () => leading });
      running.push(d);
      return d;
    };
    const leader = make(leaderScope.scope, true);
    const follower = make(followerScope.scope, false);
    await leader.start();
    await follower.start();
    const followerCallsAtStart = followerScope.calls();
    await new Promise((r) => setTimeout(r, 300));
    expect(leaderScope.calls()).toBeGreaterThan(2);
    // Only the start's own listing: the timer's turns read the store.
    expect(followerScope.calls()).toBe(followerCallsAtStart);
    expect(follower.states()[0]!.lastGood?.instances.map((i) => i.instanceId)).toEqual(['i-1', 'i-2']);
  });
});
