/**
 * Credentials written into git URLs (the config repo's BITENVOY_CONFIG_REPO, an application's `git:`) never reach a
 * page, /healthz, an API answer or a log line — a real hub and a real agent fetching over HTTP with those URLs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../testbed/world.js';

const TOKEN = 'ghp_s3cr3tT0kenInTheUrl';
const E2E_TIMEOUT = 120_000;

describe('credentials in git URLs', () => {
  let world: World;
  beforeAll(async () => {
    // The agent's owner allows this (agents pinned to git hosts refuse credentials in a URL): what is tested is that
    // the hub never shows them.
    world = await startWorld({ agents: 1, urlUserinfo: `deploy:${TOKEN}`, agentFiles: () => ({ 'agent.yml': 'allow:\n  instructions: [bitenvoy.yml]\n' }) });
  }, E2E_TIMEOUT);
  afterAll(async () => {
    await world?.close();
  });

  it(
    'are taken out of /healthz, the status pages, the admin API and every log line, while the deployment works',
    async () => {
      const { deployment } = await world.deploy();
      const view = await world.waitForDeployment(deployment.id);
      expect(view.deployment.state).toBe('success');
      // The agent did say where it fetched from — without the token.
      expect(view.jobs[0]!.logTail.join('\n')).toMatch(/fetching [0-9a-f]{7} from http:\/\/\*\*\*@127\.0\.0\.1:\d+\//);

      const texts = await Promise.all(
        ['/healthz', '/', `/deployments/${deployment.id}`].map(async (path) => (await fetch(`${world.hub.url}${path}`)).text()),
      );
      const api = await (await fetch(`${world.hub.url}/api/v1/deployments/${deployment.id}`, { headers: { authorization: `Bearer ${world.hub.adminToken}` } })).text();
      for (const text of [...texts, api, world.hub.output(), world.agents[0]!.process.output()]) expect(text).not.toContain(TOKEN);
      expect(texts[0]).toContain('http://***@127.0.0.1');
    },
    E2E_TIMEOUT,
  );

  it(
    'are taken out of the error a deployment of a missing ref answers with',
    async () => {
      const res = await fetch(`${world.hub.url}/api/v1/deployments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${world.hub.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ repository: 'demo/shop', ref: 'no-such-branch', environment: 'staging' }),
      });
      const text = await res.text();
      expect(res.status).toBe(422);
      expect(text).not.toContain(TOKEN);
    },
    E2E_TIMEOUT,
  );
});
