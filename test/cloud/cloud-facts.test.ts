/** Joining discovery listings with proved identities: fresh facts become labels; anything doubtful is unknown, with why. */
import { describe, expect, it } from 'vitest';
import { cloudLabels, joinCloudFacts, type ScopeState } from '../../app/cloud/cloud-facts.js';
import type { CloudInstance, ProvedIdentity } from '../../app/cloud/cloud-instance.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const LIMIT = 15 * 60_000;
const ago = (ms: number) => new Date(NOW - ms).toISOString();

const web1: CloudInstance = {
  provider: 'aws',
  account: '123456789012',
  region: 'eu-west-1',
  zone: 'eu-west-1a',
  instanceId: 'i-0aaa',
  instanceType: 't3.small',
  privateIp: '10.0.0.5',
  tags: { Role: 'web', 'aws:cloudformation:stack-name': 'shop prod' },
};
const proved = (instanceId: string, region = 'eu-west-1'): ProvedIdentity => ({ provider: 'aws', account: '123456789012', instanceId, region });
const scope = (state: Partial<ScopeState>): ScopeState => ({ id: 'aws/123456789012/eu-west-1', provider: 'aws', account: '123456789012', region: 'eu-west-1', ...state });

describe('cloudLabels', () => {
  it('names every fact, and keeps tag keys raw', () => {
    expect(cloudLabels(web1)).toEqual({
      'cloud.provider': 'aws',
      'cloud.account': '123456789012',
      'cloud.region': 'eu-west-1',
      'cloud.zone': 'eu-west-1a',
      'cloud.instance_id': 'i-0aaa',
      'cloud.instance_type': 't3.small',
      'cloud.private_ip': '10.0.0.5',
      'cloud.tag.Role': 'web',
      'cloud.tag.aws:cloudformation:stack-name': 'shop prod',
    });
  });
});

describe('joinCloudFacts', () => {
  it.each<[string, ProvedIdentity | undefined, ScopeState[], { labels?: Record<string, string>; unknown?: RegExp }]>([
    ['a fresh listing gives the labels', proved('i-0aaa'), [scope({ lastGood: { at: ago(60_000), instances: [web1] } })], { labels: cloudLabels(web1) }],
    ['an agent that proved no identity is not a cloud instance', undefined, [scope({ lastGood: { at: ago(60_000), instances: [web1] } })], { labels: {} }],
    ['a stale listing makes them unknown', proved('i-0aaa'), [scope({ lastGood: { at: ago(20 * 60_000), instances: [web1] } })], { unknown: /^aws\/123456789012\/eu-west-1 was last listed 20 min ago, past the 15 min limit$/ }],
    [
      'a failing scope says its last error',
      proved('i-0aaa'),
      [scope({ lastGood: { at: ago(30 * 60_000), instances: [web1] }, lastError: { at: ago(10_000), message: 'RequestLimitExceeded' } })],
      { unknown: /past the 15 min limit; last error .*: RequestLimitExceeded$/ },
    ],
    ['a scope never listed', proved('i-0aaa'), [scope({ lastError: { at: ago(10_000), message: 'AccessDenied' } })], { unknown: /has not been listed successfully yet; last error .*: AccessDenied$/ }],
    ['an instance the fresh listing lacks', proved('i-0bbb'), [scope({ lastGood: { at: ago(60_000), instances: [web1] } })], { unknown: /^aws\/123456789012\/i-0bbb is not in aws\/123456789012\/eu-west-1's listing/ }],
    ['no scope covers the region', proved('i-0ccc', 'us-east-1'), [scope({ lastGood: { at: ago(60_000), instances: [web1] } })], { unknown: /^no discovery scope covers aws 123456789012 in us-east-1/ }],
  ])('%s', (_name, identity, scopes, expected) => {
    const facts = joinCloudFacts([{ id: 'ag_1' }], new Map(identity ? [['ag_1', identity]] : []), scopes, { now: NOW, staleAfterMs: LIMIT }).get('ag_1')!;
    if (expected.unknown) {
      expect(facts.labels).toEqual({});
      expect(facts.unknown).toMatch(expected.unknown);
    } else {
      expect(facts).toEqual({ labels: expected.labels });
    }
  });
});
