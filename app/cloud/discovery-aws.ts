/**
 * AWS discovery: one scope per region, listing every EC2 instance with the official SDK's `DescribeInstances`
 * paginator (all pages, every instance of every reservation). Credentials come from the SDK's standard chain
 * (environment, shared config and SSO, container or instance role); with `roleArn` the hub first assumes that role
 * through STS, e.g. a read-only role in another account.
 *
 * Minimum read-only permissions: `ec2:DescribeInstances` (it supports no resource-level restriction, so `"Resource":
 * "*"`), plus `sts:AssumeRole` on the role when `roleArn` is set (the role's trust policy must allow the hub's
 * principal, and the role itself needs `ec2:DescribeInstances`).
 *
 * Mapping: account = the reservation's `OwnerId`, zone = `Placement.AvailabilityZone`, instanceId, instanceType,
 * privateIp = `PrivateIpAddress`, tags = the raw `Key`/`Value` pairs (spaces, colons, `aws:` prefixes and all).
 *
 * @example
 * const scopes = awsScopes({ regions: ['eu-west-1', 'us-east-1'], roleArn: 'arn:aws:iam::123456789012:role/bitenvoy-read' });
 * await scopes[0].list(); // every instance in eu-west-1, or a rejection naming aws/123456789012/eu-west-1
 */
import { EC2Client, paginateDescribeInstances, type EC2ClientConfig, type Instance, type Reservation } from '@aws-sdk/client-ec2';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { ScopeState } from './cloud-facts.js';
import type { CloudInstance, DiscoveryScope } from './cloud-instance.js';
import { describeAwsFailure } from './discovery-aws-errors.js';

/** The most `DescribeInstances` returns per page. */
const MAX_PAGE_SIZE = 1_000;

export interface AwsScopeOptions {
  regions: string[];
  /** A role to assume through STS before listing, e.g. a read-only role in another account. */
  roleArn?: string;
  /** Another EC2 (and STS) endpoint, e.g. a VPC endpoint or a local emulator. */
  endpoint?: string;
  /** Credentials to use (or to assume the role with) instead of the SDK's default chain. */
  credentials?: EC2ClientConfig['credentials'];
  /** Attempts per page, the SDK's own retries included (its default is 3). */
  maxAttempts?: number;
  /** Instances per page, 5 to 1,000 (default: the most). */
  pageSize?: number;
}

export type AwsScope = DiscoveryScope & Pick<ScopeState, 'account' | 'region'>;

/**
 * One discovery scope per region. The account is known up front only from a role ARN; without one the scope covers
 * whatever account the hub's credentials belong to.
 */
export function awsScopes(options: AwsScopeOptions): AwsScope[] {
  const account = options.roleArn ? accountOfRole(options.roleArn) : undefined;
  return options.regions.map((region) => {
    const id = account ? `aws/${account}/${region}` : `aws/${region}`;
    const client = new EC2Client(clientConfig(options, region));
    const list = async (signal?: AbortSignal) => {
      try {
        return await listRegion(client, region, options.pageSize ?? MAX_PAGE_SIZE, signal);
      } catch (err) {
        throw describeAwsFailure(err, { scopeId: id, region, roleArn: options.roleArn, signal });
      }
    };
    return { id, provider: 'aws', region, ...(account ? { account } : {}), list };
  });
}

function clientConfig(options: AwsScopeOptions, region: string): EC2ClientConfig {
  const shared = { region, ...(options.endpoint ? { endpoint: options.endpoint } : {}), ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}) };
  return {
    ...shared,
    ...credentialsOf(options, shared),
    // Bounded so that a silent network never holds a refresh forever.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
  };
}

/** The given credentials, or the SDK's chain when none; with a role, temporary ones assumed with those. */
function credentialsOf(options: AwsScopeOptions, stsConfig: { region: string }): Pick<EC2ClientConfig, 'credentials'> {
  if (!options.roleArn) return options.credentials ? { credentials: options.credentials } : {};
  // Each region's client assumes through its own regional STS endpoint, which keeps working when another region's
  // does not; the client caches the temporary credentials and assumes again shortly before they expire.
  const assume = fromTemporaryCredentials({
    params: { RoleArn: options.roleArn, RoleSessionName: 'bitenvoy-discovery' },
    ...(options.credentials ? { masterCredentials: options.credentials } : {}),
    clientConfig: stsConfig,
  });
  return { credentials: assume };
}

async function listRegion(client: EC2Client, region: string, pageSize: number, signal?: AbortSignal): Promise<CloudInstance[]> {
  const instances: CloudInstance[] = [];
  const tokens = new Set<string>();
  for await (const page of paginateDescribeInstances({ client, pageSize }, {}, { abortSignal: signal })) {
    for (const reservation of page.Reservations ?? []) instances.push(...fromReservation(region, reservation));
    // The paginator would loop forever on a token it has seen; the listing must end, and end complete.
    if (page.NextToken && tokens.has(page.NextToken)) throw new Error('EC2 sent the same NextToken twice; the listing would never end, so it is abandoned');
    if (page.NextToken) tokens.add(page.NextToken);
  }
  return instances;
}

function fromReservation(region: string, reservation: Reservation): CloudInstance[] {
  const account = reservation.OwnerId;
  if (!account) return [];
  // Terminated instances stay in DescribeInstances for about an hour after they are gone. None can run an agent any
  // more, and their private IP may already belong to a new instance, so they are left out.
  const live = (reservation.Instances ?? []).filter((i): i is Instance & { InstanceId: string } => !!i.InstanceId && i.State?.Name !== 'terminated');
  return live.map((instance) => toInstance(account, region, instance));
}

function toInstance(account: string, region: string, instance: Instance & { InstanceId: string }): CloudInstance {
  const zone = instance.Placement?.AvailabilityZone;
  return {
    provider: 'aws',
    account,
    region,
    ...(zone ? { zone } : {}),
    instanceId: instance.InstanceId,
    ...(instance.InstanceType ? { instanceType: instance.InstanceType } : {}),
    ...(instance.PrivateIpAddress ? { privateIp: instance.PrivateIpAddress } : {}),
    tags: Object.fromEntries((instance.Tags ?? []).flatMap((tag) => (tag.Key === undefined ? [] : [[tag.Key, tag.Value ?? '']]))),
  };
}

/** `arn:aws:iam::123456789012:role/name` → `123456789012`; a malformed ARN is a settings mistake, said at once. */
export function accountOfRole(roleArn: string): string {
  const match = /^arn:aws[\w-]*:iam::(\d{12}):role\/.+$/.exec(roleArn);
  if (!match?.[1]) throw new Error(`AWS role to assume: expected an IAM role ARN like arn:aws:iam::123456789012:role/bitenvoy-read, got ${JSON.stringify(roleArn)}`);
  return match[1];
}
