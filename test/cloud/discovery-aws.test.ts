import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ThrottledError, type CloudInstance } from '../../app/cloud/cloud-instance.js';
import { accountOfRole, awsScopes, type AwsScopeOptions } from '../../app/cloud/discovery-aws.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/cloud/${name}`, import.meta.url), 'utf8');
const XML = { 'content-type': 'text/xml;charset=UTF-8' };
const EC2 = 'https://ec2.eu-west-1.amazonaws.com';
// Static credentials in the client config: no credential lookup (files, IMDS) ever runs.
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const PAGE_2_TOKEN = 'eyJ2IjoiMiIsImMiOiJwYWdlLTIifQ==';

/** nock hands a form body over parsed (an object) when the content type says so; read either way. */
function form(body: unknown): URLSearchParams {
  if (typeof body === 'string') return new URLSearchParams(body);
  return new URLSearchParams(Object.entries(body as Record<string, string>));
}

/** A DescribeInstances request in the EC2 Query API format, for the page that `token` names (none: the first). */
function describeInstances(token: string | undefined, seen: URLSearchParams[]) {
  return (body: unknown) => {
    const params = form(body);
    const ok = params.get('Action') === 'DescribeInstances' && params.get('Version') === '2016-11-15' && params.get('NextToken') === (token ?? null);
    if (ok) seen.push(params);
    return ok;
  };
}

function scope(options: Partial<AwsScopeOptions> = {}) {
  const [only] = awsScopes({ regions: ['eu-west-1'], credentials, maxAttempts: 1, ...options });
  return only!;
}

beforeAll(() => {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
});

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe('awsScopes', () => {
  it('lists every page through NextToken, every reservation, raw tags, and leaves terminated instances out', async () => {
    const seen: URLSearchParams[] = [];
    nock(EC2)
      .matchHeader('content-type', /^application\/x-www-form-urlencoded/)
      .matchHeader('authorization', /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ec2\/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$/)
      .post('/', describeInstances(undefined, seen))
      .reply(200, fixture('ec2-describe-instances.page-1.xml'), XML)
      .post('/', describeInstances(PAGE_2_TOKEN, seen))
      .reply(200, fixture('ec2-describe-instances.page-2.xml'), XML);

    const instances = await scope().list();

    expect(seen.map((p) => p.get('NextToken'))).toEqual([null, PAGE_2_TOKEN]);
    expect(seen.map((p) => p.get('MaxResults'))).toEqual(['1000', '1000']);
    expect(instances).toEqual<CloudInstance[]>([
      {
        provider: 'aws',
        account: '123456789012',
        region: 'eu-west-1',
        zone: 'eu-west-1a',
        instanceId: 'i-0aaa1111bbbb2222c',
        instanceType: 't3.medium',
        privateIp: '10.0.1.12',
        tags: { Name: 'web-1', Role: 'web', 'aws:autoscaling:groupName': 'web-asg', 'Cost Center': 'R&D 42', 'team:owner/on-call': '' },
      },
      { provider: 'aws', account: '123456789012', region: 'eu-west-1', zone: 'eu-west-1b', instanceId: 'i-0fff5555aaaa6666b', instanceType: 'm7g.large', privateIp: '10.0.2.7', tags: { Role: 'worker' } },
      { provider: 'aws', account: '123456789012', region: 'eu-west-1', zone: 'eu-west-1c', instanceId: 'i-0123456789abcdef0', instanceType: 'c7i.xlarge', privateIp: '10.0.3.30', tags: {} },
    ]);
    expect(instances.map((i) => i.instanceId)).not.toContain('i-0ddd3333eeee4444f');
  });

  it('gives one scope per region, each calling its own regional endpoint', async () => {
    const scopes = awsScopes({ regions: ['eu-west-1', 'us-east-1'], credentials, maxAttempts: 1 });
    expect(scopes.map((s) => ({ id: s.id, provider: s.provider, region: s.region, account: s.account }))).toEqual([
      { id: 'aws/eu-west-1', provider: 'aws', region: 'eu-west-1', account: undefined },
      { id: 'aws/us-east-1', provider: 'aws', region: 'us-east-1', account: undefined },
    ]);
    nock('https://ec2.us-east-1.amazonaws.com').post('/', describeInstances(undefined, [])).reply(200, fixture('ec2-describe-instances.page-2.xml'), XML);
    const [instance] = await scopes[1]!.list();
    expect(instance).toMatchObject({ region: 'us-east-1', instanceId: 'i-0123456789abcdef0' });
  });

  it('rides out throttling with the SDK’s own retry, answered in the EC2 error format', async () => {
    nock(EC2)
      .post('/', describeInstances(undefined, []))
      .reply(503, fixture('ec2-error.request-limit-exceeded.xml'), XML)
      .post('/', describeInstances(undefined, []))
      .reply(200, fixture('ec2-describe-instances.page-2.xml'), XML);

    const instances = await scope({ maxAttempts: 2 }).list();

    expect(instances.map((i) => i.instanceId)).toEqual(['i-0123456789abcdef0']);
  });

  it('rejects with a ThrottledError and a retry hint when throttling outlasts the SDK’s retries', async () => {
    nock(EC2).post('/', describeInstances(undefined, [])).times(2).reply(503, fixture('ec2-error.request-limit-exceeded.xml'), XML);

    const failure = await scope({ maxAttempts: 2 }).list().catch((err: unknown) => err);

    expect(failure).toBeInstanceOf(ThrottledError);
    expect((failure as ThrottledError).retryAfterMs).toBe(30_000);
    expect((failure as Error).message).toMatchInlineSnapshot(`"aws/eu-west-1: RequestLimitExceeded: Request limit exceeded. — throttled by EC2 even after the SDK's retries; trying again in 30 s"`);
  });

  it('rejects the whole listing when a later page fails: no partial result', async () => {
    nock(EC2)
      .post('/', describeInstances(undefined, []))
      .reply(200, fixture('ec2-describe-instances.page-1.xml'), XML)
      .post('/', describeInstances(PAGE_2_TOKEN, []))
      .times(2)
      .reply(500, '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message></Error></Errors><RequestID>ee5b0e3c-example</RequestID></Response>', XML);

    await expect(scope({ maxAttempts: 2 }).list()).rejects.toThrow(
      'aws/eu-west-1: InternalError: An internal error has occurred — an AWS-side error; retried on the next refresh',
    );
  });

  it('says which permission is missing', async () => {
    nock(EC2).post('/', describeInstances(undefined, [])).reply(403, fixture('ec2-error.unauthorized-operation.xml'), XML);

    const failure = (await scope().list().catch((err: unknown) => err)) as Error;

    expect(failure).not.toBeInstanceOf(ThrottledError);
    expect(failure.message).toMatch(/^aws\/eu-west-1: UnauthorizedOperation: You are not authorized to perform this operation\..* — the hub's credentials need ec2:DescribeInstances in eu-west-1$/);
  });

  it('says what to do when no credentials are found', async () => {
    const failure = (await scope({ credentials: async () => Promise.reject(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })) })
      .list()
      .catch((err: unknown) => err)) as Error;

    expect(failure.message).toMatch(/^aws\/eu-west-1: CredentialsProviderError: Could not load credentials from any providers — AWS did not accept the hub's credentials: check the standard AWS credential chain/);
  });

  it('assumes the role through STS and lists with the temporary credentials', async () => {
    const assumed: URLSearchParams[] = [];
    nock('https://sts.eu-west-1.amazonaws.com')
      .matchHeader('authorization', /Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sts\/aws4_request/)
      .post('/', (body: unknown) => {
        const params = form(body);
        const ok = params.get('Action') === 'AssumeRole' && params.get('Version') === '2011-06-15';
        if (ok) assumed.push(params);
        return ok;
      })
      .reply(200, fixture('sts-assume-role.xml'), XML);
    nock(EC2)
      .matchHeader('authorization', /Credential=ASIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/ec2\/aws4_request/)
      .matchHeader('x-amz-security-token', 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN')
      .post('/', describeInstances(undefined, []))
      .reply(200, fixture('ec2-describe-instances.page-2.xml'), XML);

    const roleScope = scope({ roleArn: 'arn:aws:iam::210987654321:role/bitenvoy-read' });
    const instances = await roleScope.list();

    expect(roleScope).toMatchObject({ id: 'aws/210987654321/eu-west-1', account: '210987654321', region: 'eu-west-1' });
    expect(assumed.map((p) => [p.get('RoleArn'), p.get('RoleSessionName')])).toEqual([['arn:aws:iam::210987654321:role/bitenvoy-read', 'bitenvoy-discovery']]);
    expect(instances).toHaveLength(1);
  });

  it('names the role when assuming it is refused', async () => {
    nock('https://sts.eu-west-1.amazonaws.com')
      .post('/', (body: unknown) => form(body).get('Action') === 'AssumeRole')
      .reply(
        403,
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/bitenvoy-hub is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::210987654321:role/bitenvoy-read</Message></Error><RequestId>4c9a-example</RequestId></ErrorResponse>',
        XML,
      );

    const failure = (await scope({ roleArn: 'arn:aws:iam::210987654321:role/bitenvoy-read' }).list().catch((err: unknown) => err)) as Error;

    expect(failure.message).toMatch(/^aws\/210987654321\/eu-west-1: AccessDenied: .* — the hub's credentials need sts:AssumeRole on arn:aws:iam::210987654321:role\/bitenvoy-read \(and the role's trust policy must allow them\), and that role needs ec2:DescribeInstances in eu-west-1$/);
  });

  it('says a cancelled listing was cancelled', async () => {
    nock(EC2).post('/', describeInstances(undefined, [])).delay(5_000).reply(200, fixture('ec2-describe-instances.page-2.xml'), XML);
    const controller = new AbortController();
    const listing = scope().list(controller.signal);
    setTimeout(() => controller.abort(), 50);

    await expect(listing).rejects.toThrow('aws/eu-west-1: listing cancelled');
    nock.abortPendingRequests();
  });

  it('refuses a role ARN it cannot read an account from', () => {
    expect(accountOfRole('arn:aws-cn:iam::123456789012:role/path/read')).toBe('123456789012');
    expect(() => awsScopes({ regions: ['eu-west-1'], roleArn: 'bitenvoy-read' })).toThrow(
      'AWS role to assume: expected an IAM role ARN like arn:aws:iam::123456789012:role/bitenvoy-read, got "bitenvoy-read"',
    );
  });
});
