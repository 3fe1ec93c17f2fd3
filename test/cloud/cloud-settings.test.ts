/** Reading the hub's cloud settings: nothing set is off; every bad value stops the hub naming the variable. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCloudSettings } from '../../app/cloud/cloud-settings.js';
import { TestPki } from './test-pki.js';

const HUB = 'https://hub.example';

describe('readCloudSettings', () => {
  it('is off when no cloud variable is set', () => {
    expect(readCloudSettings({}, HUB)).toBeUndefined();
  });

  it('reads AWS discovery with its defaults', () => {
    expect(readCloudSettings({ BITENVOY_AWS_REGIONS: 'eu-west-1, us-east-1', BITENVOY_AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/bitenvoy-discovery' }, HUB)).toEqual({
      aws: { regions: ['eu-west-1', 'us-east-1'], roleArn: 'arn:aws:iam::123456789012:role/bitenvoy-discovery' },
      refreshMs: 300_000,
      staleAfterMs: 900_000,
      planWaitMs: 5000,
      trust: {},
    });
  });

  it('reads GCP and Azure discovery', () => {
    const sub = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
    expect(readCloudSettings({ BITENVOY_GCP_PROJECTS: 'shop-prod', BITENVOY_AZURE_SUBSCRIPTIONS: sub, BITENVOY_AZURE_ENDPOINT: 'https://management.usgovcloudapi.net' }, HUB)).toMatchObject({
      gcp: { projects: ['shop-prod'] },
      azure: { subscriptions: [sub], endpoint: 'https://management.usgovcloudapi.net' },
    });
  });

  it.each([
    [{ BITENVOY_GCP_PROJECTS: '123456789' }, 'BITENVOY_GCP_PROJECTS: `123456789` is not a project id (6-30 lowercase letters, digits and dashes; not the project number)'],
    [{ BITENVOY_AZURE_SUBSCRIPTIONS: 'prod' }, 'BITENVOY_AZURE_SUBSCRIPTIONS: `prod` is not a subscription id (a GUID)'],
    [{ BITENVOY_AWS_REGIONS: 'europe' }, 'BITENVOY_AWS_REGIONS: `europe` is not an AWS region name; write e.g. `eu-west-1,us-east-1`'],
    [{ BITENVOY_AWS_REGIONS: 'eu-west-1', BITENVOY_AWS_ROLE_ARN: 'bitenvoy' }, 'BITENVOY_AWS_ROLE_ARN=bitenvoy: expected a role ARN like arn:aws:iam::123456789012:role/bitenvoy-discovery'],
    [{ BITENVOY_AWS_REGIONS: 'eu-west-1', BITENVOY_CLOUD_STALE_SECONDS: '0' }, 'BITENVOY_CLOUD_STALE_SECONDS=0: expected a number of seconds from 1 to 604800'],
    [{ BITENVOY_AWS_IDENTITY_CERTS: '/nonexistent/aws.pem' }, /^BITENVOY_AWS_IDENTITY_CERTS=\/nonexistent\/aws\.pem: cannot read it \(.*\); point it at the file$/],
  ])('refuses %j', (env, message) => {
    expect(() => readCloudSettings(env, HUB)).toThrow(message);
  });

  it('refuses a certificate file without certificates, naming the variable', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bitenvoy-cloud-settings-')), 'aws.pem');
    writeFileSync(file, 'not a certificate\n');
    expect(() => readCloudSettings({ BITENVOY_AWS_IDENTITY_CERTS: file }, HUB)).toThrow(/^BITENVOY_AWS_IDENTITY_CERTS: no PEM certificate found/);
  });

  it('turns Azure attestation on only where OpenSSL 3 can verify signer certificates', async () => {
    const pki = await TestPki.create();
    const roots = join(pki.dir, 'azure-roots.pem');
    writeFileSync(roots, pki.root('Test Azure Root CA').certPem);
    const path = process.env.PATH;
    try {
      expect(readCloudSettings({ BITENVOY_AZURE_ROOTS: roots }, HUB)?.trust.azure?.roots).toHaveLength(1);
      // An old OpenSSL first on PATH: its `verify` lacks -no-CAstore and would trust the system's CA store.
      const bin = mkdtempSync(join(tmpdir(), 'bitenvoy-old-openssl-'));
      writeFileSync(join(bin, 'openssl'), '#!/bin/sh\necho "OpenSSL 1.1.1w  11 Sep 2023"\n');
      chmodSync(join(bin, 'openssl'), 0o755);
      process.env.PATH = `${bin}:${path}`;
      expect(() => readCloudSettings({ BITENVOY_AZURE_ROOTS: roots }, HUB)).toThrow(/^BITENVOY_AZURE_ROOTS is set: .* must be OpenSSL 3\.0 or newer \(found "OpenSSL 1\.1\.1w {2}11 Sep 2023"\); install OpenSSL 3/);
      process.env.PATH = mkdtempSync(join(tmpdir(), 'bitenvoy-no-openssl-'));
      expect(() => readCloudSettings({ BITENVOY_AZURE_ROOTS: roots }, HUB)).toThrow(/^BITENVOY_AZURE_ROOTS is set: .*`openssl version` failed .*apt-get install openssl/);
    } finally {
      process.env.PATH = path;
      pki.cleanup();
    }
  });
});
