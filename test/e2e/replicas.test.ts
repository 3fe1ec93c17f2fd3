/**
 * Two hub replicas on one PostgreSQL database, as real processes, with a real agent: a deployment asked of one
 * replica reaches the agent whose long poll another replica holds, within about a second; either replica answers
 * for it; and when the leader dies, the other takes over the periodic work within the leader lease.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubProcess, type HubProcess } from '../../testbed/processes.js';
import { startWorld, type World } from '../../testbed/world.js';
import { STORE_BACKENDS, createTestDatabase, databaseUrl, dropTestDatabase } from '../helpers/store-backends.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;

/** The value of a gauge without labels in a replica's /metrics. */
async function gauge(hub: HubProcess, name: string): Promise<number | undefined> {
  const res = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${hub.adminToken}` } });
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe.runIf(!postgres.unavailable)('hub replicas on PostgreSQL', () => {
  const database = `bitenvoy_test_${randomBytes(6).toString('hex')}`;
  let world: World;
  let other: HubProcess;

  beforeAll(async () => {
    await createTestDatabase(database);
    const env = { BITENVOY_DATABASE_URL: databaseUrl(database), BITENVOY_LEADER_LEASE_SECONDS: '2', BITENVOY_ADMIN_TOKEN: 'replicas-admin-token' };
    // Replica A: the world's hub, holding the agent's long polls.
    world = await startWorld({ agents: 1, hubEnv: env });
    // Replica B: the same store and config, its own port and folder.
    other = await startHubProcess({ dataDir: join(world.root, 'hub-b'), env: { ...env, BITENVOY_CONFIG_REPO: `${world.git.url}/bitenvoy/.bitenvoy.git`, BITENVOY_CONFIG_REFRESH_SECONDS: '2' }, name: 'hub-b' });
  }, 120_000);
  afterAll(async () => {
    await other?.stop();
    await world?.close();
    await dropTestDatabase(database);
  });

  it('dispatches a deployment asked of one replica to the agent polling the other, and both answer for it', async () => {
    // Each replica reads the same store: the agent enrolled through A is listed by B.
    const agents = (await (await fetch(`${other.url}/api/v1/agents`, { headers: { authorization: `Bearer ${other.adminToken}` } })).json()) as { agents: Array<{ name: string }> };
    expect(agents.agents.map((a) => a.name)).toEqual(['web-1']);

    const asked = Date.now();
    const res = await fetch(`${other.url}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ repository: 'demo/shop', ref: 'main', environment: 'staging' }),
    });
    expect(res.status).toBe(201);
    const { deployment } = (await res.json()) as { deployment: { id: string } };
    // The agent, holding its poll on A, gets the job B made: through A's re-check of new jobs, not its next poll.
    // (Read from the finished job: a job this short can be over between two looks for it running.)
    const done = await world.waitForDeployment(deployment.id);
    const claimedAt = Date.parse(done.jobs[0]!.claimedAt!);
    expect(claimedAt - asked).toBeLessThan(5_000);
    expect(done.deployment.state).toBe('success');
    const fromB = (await (await fetch(`${other.url}/api/v1/deployments/${deployment.id}`, { headers: { authorization: `Bearer ${other.adminToken}` } })).json()) as { deployment: { state: string } };
    expect(fromB.deployment.state).toBe('success');
  });

  it('hands the periodic work to the other replica when the leader dies', async () => {
    expect(await gauge(world.hub, 'bitenvoy_leader')).toBe(1);
    expect(await gauge(other, 'bitenvoy_leader')).toBe(0);
    world.hub.child.kill('SIGKILL');
    await world.hub.exited;
    const killed = Date.now();
    let leading = 0;
    while (Date.now() - killed < 15_000 && leading !== 1) {
      await new Promise((r) => setTimeout(r, 200));
      leading = (await gauge(other, 'bitenvoy_leader')) ?? 0;
    }
    expect(leading).toBe(1);
    // Within the lease (2 s) and a renewal's third of it, with room for a loaded machine.
    expect(Date.now() - killed).toBeLessThan(10_000);
  });
});
