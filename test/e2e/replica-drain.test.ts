/**
 * A replica stopping (SIGTERM) behind a load balancer (a TCP balancer process), with a real agent and two hub
 * processes on one PostgreSQL database: the agent's long poll is handed back and its next one lands on the other
 * replica at once, so a deployment asked right after reaches it within a poll, not after a reconnect backoff.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, startHubProcess, type HubProcess, type ManagedProcess } from '../../testbed/processes.js';
import { startTcpBalancer } from '../../testbed/tcp-balancer.js';
import { startWorld, type World } from '../../testbed/world.js';
import { STORE_BACKENDS, createTestDatabase, databaseUrl, dropTestDatabase } from '../helpers/store-backends.js';

const postgres = STORE_BACKENDS.find((b) => b.name === 'postgres')!;

async function pollsHeld(hub: HubProcess): Promise<number> {
  const res = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${hub.adminToken}` } });
  return Number((await res.text()).split('\n').find((l) => l.startsWith('bitenvoy_long_polls_held '))?.split(' ')[1] ?? 0);
}

describe.runIf(!postgres.unavailable)('a replica stopping behind a load balancer', () => {
  const database = `bitenvoy_test_${randomBytes(6).toString('hex')}`;
  let world: World;
  let other: HubProcess;
  let balancer: Awaited<ReturnType<typeof startTcpBalancer>>;
  let agent: ManagedProcess | undefined;

  beforeAll(async () => {
    await createTestDatabase(database);
    const env = { BITENVOY_DATABASE_URL: databaseUrl(database), BITENVOY_ADMIN_TOKEN: 'drain-admin-token', BITENVOY_DRAIN_SECONDS: '1' };
    world = await startWorld({ agents: 0, hubEnv: env });
    other = await startHubProcess({ dataDir: join(world.root, 'hub-b'), env: { ...env, BITENVOY_CONFIG_REPO: `${world.git.url}/bitenvoy/.bitenvoy.git`, BITENVOY_CONFIG_REFRESH_SECONDS: '2' }, name: 'hub-b' });
    balancer = await startTcpBalancer([world.hub.port, other.port]);
  }, 120_000);
  afterAll(async () => {
    await agent?.stop();
    await other?.stop();
    await balancer?.stop();
    await world?.close();
    await dropTestDatabase(database);
  });

  it('moves the agent to the other replica at once: a deployment right after reaches it well within a poll', async () => {
    // The agent knows only the balancer; its polls land on replica A first.
    const token = (await runCli(['hub', 'token', 'create', '--hub', other.url, '--token', other.adminToken])).trim();
    const dir = join(world.root, 'agents', 'web-1');
    await runCli(['agent', 'enroll', '--hub', balancer.url, '--token', token, '--dir', dir, '--name', 'web-1', '--labels', 'role=web']);
    agent = startCli('web-1', ['agent', 'run', '--dir', dir]);
    for (let i = 0; i < 100 && (await pollsHeld(world.hub)) !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await pollsHeld(world.hub)).toBe(1);

    // SIGTERM to A: it drains (1 s), stops accepting, hands the poll back on a closed connection, and exits.
    await world.hub.stop(15_000);
    for (let i = 0; i < 50 && (await pollsHeld(other)) !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await pollsHeld(other)).toBe(1);
    expect(agent.output()).not.toMatch(/cannot reach the hub/);

    const asked = Date.now();
    const headers = { authorization: `Bearer ${other.adminToken}` };
    const res = await fetch(`${other.url}/api/v1/deployments`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ repository: 'demo/shop', ref: 'main', environment: 'staging' }) });
    expect(res.status).toBe(201);
    const { deployment } = (await res.json()) as { deployment: { id: string } };
    let state = '';
    let claimedAt: string | undefined;
    while (Date.now() - asked < 30_000 && state !== 'success') {
      claimedAt ??= ((await (await fetch(`${other.url}/api/v1/deployments/${deployment.id}/servers`, { headers })).json()) as { servers: Array<{ claimedAt?: string }> }).servers[0]?.claimedAt;
      state = ((await (await fetch(`${other.url}/api/v1/deployments/${deployment.id}`, { headers })).json()) as { deployment: { state: string } }).deployment.state;
      if (state !== 'success') await new Promise((r) => setTimeout(r, 200));
    }
    expect(state).toBe('success');
    // Taken through the poll the agent already held on B: not after a reconnect backoff, nor a 50 s poll.
    expect(Date.parse(claimedAt!) - asked).toBeLessThan(5_000);
  }, 90_000);
});
