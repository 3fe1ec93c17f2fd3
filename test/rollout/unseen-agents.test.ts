/**
 * A deployment whose server went away says so while it waits — which server, since when, and when it counts as lost
 * — instead of sitting `queued` with no hint for three heartbeat intervals.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type AgentRecord, type DeploymentRecord } from '../../app/model.js';
import { DEPLOY, openEngineFixture, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
beforeEach(async () => {
  f = await openEngineFixture();
});
afterEach(async () => {
  await f.close();
});

const record = async (id: string) => (await f.store.get<DeploymentRecord>(keys.deployment(id)))!;

describe('a job waiting for a server that is not there', () => {
  it('names the server, since when it was not seen and when it counts as lost; the note goes when it comes back', async () => {
    await f.addAgent('ag_a', 'web-1');
    await f.addAgent('ag_b', 'web-2');
    const changes: DeploymentRecord[] = [];
    const engine = f.engine({ onChange: (d) => changes.push(d) });
    const dep = await engine.createDeployment(DEPLOY, 'test');
    // web-2 claims and runs; web-1 went away right after its last request.
    const job = (await engine.nextJob('ag_b'))!;
    await engine.claimJob('ag_b', job.id, 'cl_b');
    f.now += 10_000;
    await engine.checkLeases();
    expect((await record(dep.id)).description).toBe('0/2 servers · batch 1/1');

    f.now += 10_000;
    await f.store.update<AgentRecord>(keys.agent('ag_b'), (a) => a && { ...a, lastSeenAt: new Date(f.now).toISOString() });
    await engine.checkLeases();
    expect((await record(dep.id)).description).toBe('0/2 servers · batch 1/1 · web-1 not seen since 2026-11-25 10:00:00 UTC (lost after 180 s)');
    expect(changes.at(-1)?.description).toContain('web-1 not seen since');
    // The note does not change while nothing changes: no status is sent again every second.
    const sent = changes.length;
    f.now += 5_000;
    await engine.checkLeases();
    expect(changes).toHaveLength(sent);

    // web-1 is back and takes its job: the note goes.
    await f.store.update<AgentRecord>(keys.agent('ag_a'), (a) => a && { ...a, lastSeenAt: new Date(f.now).toISOString() });
    const back = (await engine.nextJob('ag_a'))!;
    await engine.claimJob('ag_a', back.id, 'cl_a');
    await engine.checkLeases();
    expect((await record(dep.id)).description).toBe('0/2 servers · batch 1/1');
  });
});
