/**
 * Turns what the AWS SDK throws while listing a region into a message that names the scope and says what to fix.
 * Throttling that outlasted the SDK's own retries becomes a {@link ThrottledError}, so the discovery loop leaves the
 * region alone for a while instead of adding to the account's request rate (EC2 throttles per account and region,
 * across every tool that uses it).
 *
 * @example
 * describeAwsFailure(err, { scopeId: 'aws/eu-west-1', region: 'eu-west-1' });
 * // Error: aws/eu-west-1: UnauthorizedOperation: … — the hub's credentials need ec2:DescribeInstances in eu-west-1
 */
import { ThrottledError } from './cloud-instance.js';
import { DEFAULT_THROTTLE_MS, parseRetryAfter } from './discovery-http.js';

/** The parts of an SDK service exception (or a Node network error) a message needs. */
interface SdkFailure {
  name?: string;
  message?: string;
  /** Node's network error code, e.g. `ECONNREFUSED`. */
  code?: string;
  $fault?: 'client' | 'server';
  $response?: { headers?: Record<string, string | undefined> };
  $retryable?: { throttling?: boolean };
}

export interface AwsFailureContext {
  scopeId: string;
  region: string;
  roleArn?: string | undefined;
  /** The caller's signal: an abort it asked for is said as such. */
  signal?: AbortSignal | undefined;
}

const THROTTLING = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException']);
const DENIED = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException']);
const BAD_CREDENTIALS = new Set(['AuthFailure', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'ExpiredToken', 'RequestExpired', 'CredentialsProviderError']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

export function describeAwsFailure(err: unknown, context: AwsFailureContext): Error {
  const failure: SdkFailure = typeof err === 'object' && err !== null ? err : { message: String(err) };
  const name = failure.name ?? 'Error';
  const said = `${context.scopeId}: ${name === 'Error' ? '' : `${name}: `}${failure.message ?? 'no message'}`;
  if (context.signal?.aborted) return new Error(`${context.scopeId}: listing cancelled`, { cause: err });
  if (THROTTLING.has(name) || failure.$retryable?.throttling) {
    const waitMs = parseRetryAfter(failure.$response?.headers?.['retry-after']) ?? DEFAULT_THROTTLE_MS;
    return new ThrottledError(`${said} — throttled by EC2 even after the SDK's retries; trying again in ${Math.ceil(waitMs / 1000)} s`, waitMs);
  }
  return new Error(`${said} — ${remedy(name, failure, context)}`, { cause: err });
}

function remedy(name: string, failure: SdkFailure, context: AwsFailureContext): string {
  const { region, roleArn } = context;
  if (DENIED.has(name)) {
    return roleArn
      ? `the hub's credentials need sts:AssumeRole on ${roleArn} (and the role's trust policy must allow them), and that role needs ec2:DescribeInstances in ${region}`
      : `the hub's credentials need ec2:DescribeInstances in ${region}`;
  }
  if (BAD_CREDENTIALS.has(name)) {
    return `AWS did not accept the hub's credentials: check the standard AWS credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the instance or container role), and that ${region} is enabled for the account`;
  }
  if (name === 'OptInRequired') return `${region} is not enabled for this account: enable it, or remove it from the hub's AWS regions`;
  if (failure.code && NETWORK.has(failure.code)) return `could not reach EC2 in ${region}: check the hub's outbound network (DNS, proxy, firewall) and the region name`;
  if (name === 'TimeoutError') return `EC2 in ${region} did not answer in time: check the hub's outbound network; retried on the next refresh`;
  if (failure.$fault === 'server') return 'an AWS-side error; retried on the next refresh';
  return 'retried on the next refresh; if it persists, check the region name and the hub\'s AWS settings';
}
