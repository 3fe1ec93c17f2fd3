/**
 * The AWS scope against moto_server, a real EC2 Query API implementation, instead of recorded answers: instances are
 * launched, tagged and terminated through the SDK, then listed page by page. Skipped, with the reason printed, where
 * Python's moto_server is not installed (`pip install 'moto[server]'`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { DescribeImagesCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsScopes } from '../../app/cloud/discovery-aws.js';

const probe = spawnSync('moto_server', ['--help'], { stdio: 'ignore', timeout: 20_000 });
const motoMissing = probe.error ? `moto_server is not available (${probe.error.message}); install it with pip install 'moto[server]'` : undefined;
if (motoMissing) console.log(`skipping the moto_server test of the AWS discovery scope: ${motoMissing}`);

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const REGION = 'eu-west-1';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

async function waitUntilAnswering(endpoint: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${endpoint}/moto-api/`).then(() => true, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto_server did not answer at ${endpoint}`);
}

describe.skipIf(motoMissing)('awsScopes against moto_server', () => {
  let moto: ChildProcess | undefined;
  let endpoint = '';
  let ec2: EC2Client;

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await waitUntilAnswering(endpoint);
    ec2 = new EC2Client({ region: REGION, endpoint, credentials });
  });

  afterAll(() => {
    moto?.kill();
  });

  it('lists every launched instance over several pages, with raw tags, and without the terminated one', async () => {
    const images = await ec2.send(new DescribeImagesCommand({}));
    const imageId = images.Images?.[0]?.ImageId;
    expect(imageId).toBeDefined();
    const tags = [
      { Key: 'Role', Value: 'web' },
      { Key: 'Cost Center', Value: 'R&D 42' },
      { Key: 'team:owner/on-call', Value: '' },
    ];
    // Seven launches, seven reservations: pages count reservations too, and the listing must take every one.
    const launched: string[] = [];
    for (let i = 0; i < 7; i++) {
      const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', TagSpecifications: [{ ResourceType: 'instance', Tags: tags }] }));
      launched.push(run.Instances?.[0]?.InstanceId ?? '');
    }
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [launched[0]!] }));
    // Five a page (the API's minimum), so the listing below needs more than one page.
    expect((await ec2.send(new DescribeInstancesCommand({ MaxResults: 5 }))).NextToken).toBeTruthy();

    const [scope] = awsScopes({ regions: [REGION], endpoint, credentials, pageSize: 5, maxAttempts: 1 });
    const instances = await scope!.list();

    expect(instances.map((i) => i.instanceId).sort()).toEqual(launched.slice(1).sort());
    for (const instance of instances) {
      expect(instance).toMatchObject({ provider: 'aws', region: REGION, instanceType: 't3.micro', tags: { Role: 'web', 'Cost Center': 'R&D 42', 'team:owner/on-call': '' } });
      expect(instance.account).toMatch(/^\d{12}$/);
      expect(instance.zone).toMatch(/^eu-west-1[a-z]$/);
      expect(instance.privateIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
  });
});
