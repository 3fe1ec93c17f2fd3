/**
 * Groups by verified cloud metadata, end to end with real processes: a hub listing EC2 through the AWS SDK (against a
 * local EC2 endpoint answering in the EC2 Query API's XML), agents proving their instance with identity documents
 * signed by a key the hub trusts (served by a local instance metadata service), and a group selecting
 * `cloud.tag.Role`. Only the proved web instance is deployed to; an agent presenting a copy of another instance's
 * document is refused; when EC2 stops answering, the facts go stale and the group narrows — never widens — saying why.
 */
import { sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../testbed/processes.js';
import { startWorld, type World } from '../../testbed/world.js';
import { TestPki, type Issued } from '../cloud/test-pki.js';
import { until } from '../helpers/until.js';

const E2E_TIMEOUT = 120_000;
const ACCOUNT = '123456789012';

/** The instance each agent runs on; web-3 has none of its own and presents a copy of web-1's document. */
const INSTANCES: Record<string, { id: string; tags: Record<string, string>; ip: string }> = {
  'web-1': { id: 'i-0aaaaaaaaaaaaaaa1', tags: { Role: 'web', Name: 'shop web 1' }, ip: '10.0.1.11' },
  'web-2': { id: 'i-0bbbbbbbbbbbbbbb2', tags: { Role: 'db' }, ip: '10.0.1.12' },
};

function identityDocument(name: string): string {
  const instance = INSTANCES[name]!;
  return `{\n  "accountId" : "${ACCOUNT}",\n  "availabilityZone" : "eu-west-1a",\n  "instanceId" : "${instance.id}",\n  "instanceType" : "t3.small",\n  "pendingTime" : "${new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z')}",\n  "privateIp" : "${instance.ip}",\n  "region" : "eu-west-1",\n  "version" : "2017-09-30"\n}`;
}

function describeInstancesXml(): string {
  const items = Object.values(INSTANCES).map(
    (i) => `<item><instanceId>${i.id}</instanceId><instanceState><code>16</code><name>running</name></instanceState><instanceType>t3.small</instanceType><placement><availabilityZone>eu-west-1a</availabilityZone></placement><privateIpAddress>${i.ip}</privateIpAddress><tagSet>${Object.entries(i.tags)
      .map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`)
      .join('')}</tagSet></item>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><reservationSet><item><reservationId>r-0001</reservationId><ownerId>${ACCOUNT}</ownerId><groupSet/><instancesSet>${items.join('')}</instancesSet></item></reservationSet></DescribeInstancesResponse>`;
}

const UNAUTHORIZED = '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r-2</RequestID></Response>';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}


describe('groups by verified cloud metadata', () => {
  let world: World;
  let pki: TestPki;
  let ec2: Server;
  let imds: Server;
  let ec2Down = false;
  let ec2Calls = 0;

  beforeAll(async () => {
    pki = await TestPki.create();
    // Stands in for AWS's regional identity certificate: the hub trusts it, the test's IMDS signs with it.
    const aws: Issued = pki.root('AWS identity (test)', { ca: false });
    const certs = join(pki.dir, 'aws-identity.pem');
    await writeFile(certs, aws.certPem);
    ec2 = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        ec2Calls++;
        if (!new URLSearchParams(body).get('Action')?.startsWith('DescribeInstances')) res.writeHead(400).end();
        else if (ec2Down) res.writeHead(403, { 'content-type': 'text/xml' }).end(UNAUTHORIZED);
        else res.writeHead(200, { 'content-type': 'text/xml' }).end(describeInstancesXml());
      });
    });
    imds = createServer((req, res) => {
      const [, agent, ...rest] = (req.url ?? '').split('/');
      const path = `/${rest.join('/')}`;
      const document = INSTANCES[agent!] ? identityDocument(agent!) : undefined;
      if (req.method === 'PUT' && path === '/latest/api/token') res.writeHead(200).end('imds-token');
      else if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-token' || !document) res.writeHead(401).end();
      else if (path === '/latest/dynamic/instance-identity/document') res.writeHead(200).end(document);
      else if (path === '/latest/dynamic/instance-identity/signature') res.writeHead(200).end(sign('sha256', Buffer.from(document), aws.privateKey).toString('base64'));
      else res.writeHead(404).end();
    });
    const ec2Url = await listen(ec2);
    const imdsUrl = await listen(imds);
    world = await startWorld({
      agents: 3,
      configFiles: { 'groups.yml': 'groups:\n  web:\n    selector:\n      matchExpressions:\n        - { key: cloud.tag.Role, operator: In, values: [web] }\n' },
      hubEnv: {
        BITENVOY_AWS_REGIONS: 'eu-west-1',
        BITENVOY_AWS_ENDPOINT: ec2Url,
        BITENVOY_AWS_IDENTITY_CERTS: certs,
        BITENVOY_CLOUD_REFRESH_SECONDS: '1',
        BITENVOY_CLOUD_STALE_SECONDS: '4',
        BITENVOY_CLOUD_PLAN_WAIT_SECONDS: '1',
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLETEST',
        AWS_SECRET_ACCESS_KEY: 'test-secret-not-real',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      // web-3 runs on no instance of its own: it presents web-1's document, as a copy would be.
      agentFiles: (name) => ({ 'agent.yml': `cloud:\n  provider: aws\n  metadataUrl: ${imdsUrl}/${name === 'web-3' ? 'web-1' : name}\n  every: 2s\n` }),
    });
  }, E2E_TIMEOUT);

  afterAll(async () => {
    await world?.close();
    await new Promise((r) => (ec2 ? ec2.close(r) : r(undefined)));
    await new Promise((r) => (imds ? imds.close(r) : r(undefined)));
    pki?.cleanup();
  });

  it(
    'deploys only to the proved web instance; a copied document is refused; stale facts narrow the group, saying why',
    async () => {
      const agents = async () => (await runCli(['agents', '--json', '--hub', world.hub.url, '--token', world.hub.adminToken])).trim();
      const listed = await until('both instances proved and listed', async () => {
        const list = JSON.parse(await agents()) as Array<{ name: string; cloud?: { labels: Record<string, string> } }>;
        const byName = Object.fromEntries(list.map((a) => [a.name, a.cloud?.labels]));
        return byName['web-1']?.['cloud.tag.Role'] === 'web' && byName['web-2']?.['cloud.tag.Role'] === 'db' ? byName : undefined;
      });
      expect(listed['web-1']).toEqual({
        'cloud.provider': 'aws',
        'cloud.account': ACCOUNT,
        'cloud.region': 'eu-west-1',
        'cloud.zone': 'eu-west-1a',
        'cloud.instance_id': INSTANCES['web-1']!.id,
        'cloud.instance_type': 't3.small',
        'cloud.private_ip': '10.0.1.11',
        'cloud.tag.Role': 'web',
        'cloud.tag.Name': 'shop web 1',
      });
      expect(listed['web-3']).toBeUndefined();
      expect(await runCli(['agents', '--hub', world.hub.url, '--token', world.hub.adminToken])).toContain('cloud.tag.Name="shop web 1"');
      // The copy of web-1's document got web-3 nothing, and the hub said why.
      await until('the refusal of the copy', async () => (/already bound to agent web-1/.test(world.hub.output()) ? true : undefined));

      // An operator unbinds web-2 (as after checking a quarantined server): it proves its instance again on its own.
      expect(await runCli(['agents', 'unbind', 'web-2', '--hub', world.hub.url, '--token', world.hub.adminToken])).toBe('web-2: cloud binding removed; the agent proves its instance afresh at its next attestation\n');
      await until('web-2 bound again', async () => ((JSON.parse(await agents()) as Array<{ name: string; cloud?: { labels: Record<string, string> } }>).find((a) => a.name === 'web-2')?.cloud?.labels['cloud.tag.Role'] === 'db' ? true : undefined));
      await expect(runCli(['agents', 'unbind', 'web-9', '--hub', world.hub.url, '--token', world.hub.adminToken])).rejects.toThrow(/no agent named `web-9`/);

      const { deployment } = await world.deploy();
      const done = await world.waitForDeployment(deployment.id);
      expect(done.deployment.state).toBe('success');
      expect(done.jobs.map((j) => j.agentName)).toEqual(['web-1']);

      // EC2 stops answering: the last listing ages past 4 s; the group narrows to nobody and the plan says why.
      ec2Down = true;
      const calls = ec2Calls;
      await until('EC2 asked again', async () => (ec2Calls > calls ? true : undefined));
      await new Promise((r) => setTimeout(r, 5000));
      const health = (await (await fetch(`${world.hub.url}/healthz`)).json()) as { cloud: Array<{ id: string; instances?: number; lastError?: { message: string } }> };
      expect(health.cloud).toEqual([expect.objectContaining({ id: 'aws/eu-west-1', instances: 2, lastError: expect.objectContaining({ message: expect.stringMatching(/UnauthorizedOperation/) }) })]);
      const stale = (await world.deploy()).deployment;
      expect(stale.state).toBe('error');
      expect(stale.description).toMatch(/^no agents in group web/);
      expect([...stale.skipped].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        expect.objectContaining({ name: 'web-1', reason: expect.stringMatching(/^cloud facts unknown: aws\/eu-west-1 was last listed \d+ s ago, past the 4 s limit; last error .*UnauthorizedOperation/) }),
        expect.objectContaining({ name: 'web-2', reason: expect.stringMatching(/^cloud facts unknown: /) }),
      ]);
    },
    E2E_TIMEOUT,
  );
});
