/**
 * GCP and Azure attestation round trip through a real hub: the agent's own code asks the hub for a nonce, reads its
 * evidence from an instance metadata service played over HTTP (signing with keys the hub is configured to trust), and
 * sends it; the hub verifies and binds. Proves the agent and the hub agree on audience, nonce and evidence format.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubClient } from '../../agent/hub-client.js';
import { proveCloudIdentity } from '../../agent/prove-cloud-identity.js';
import { silentLogger } from '../../lib/logger.js';
import { startTestHub, type TestHub } from '../helpers/test-hub.js';
import { azureTime, TestPki, type Issued } from './test-pki.js';

const google = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SUBSCRIPTION = '8d10da13-8125-4ba9-a717-bf7490507b3d';
const VM_ID = '02aab8a4-74ef-476e-8182-f6d2ba4166a6';


let pki: TestPki;
let signer: Issued;
let hub: TestHub;
let metadata: Server;
let metadataUrl: string;

beforeAll(async () => {
  pki = await TestPki.create();
  const root = pki.root('Test Azure Root CA');
  signer = pki.issue('eastus.metadata.azure.com', root, { dns: ['eastus.metadata.azure.com'] });
  const jwks = join(pki.dir, 'google-jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...google.publicKey.export({ format: 'jwk' }), kid: 'g1', alg: 'RS256', use: 'sig' }] }));
  const roots = join(pki.dir, 'azure-roots.pem');
  writeFileSync(roots, root.certPem);
  // GCE's metadata server signs a token for whatever audience it is asked; Azure's IMDS signs the nonce it is given.
  metadata = createServer((req, res) => {
    const url = new URL(req.url!, 'http://metadata');
    if (url.pathname === '/computeMetadata/v1/instance/service-accounts/default/identity' && req.headers['metadata-flavor'] === 'Google') {
      const iat = Math.floor(Date.now() / 1000);
      const claims = {
        aud: url.searchParams.get('audience'),
        iss: 'https://accounts.google.com',
        iat,
        exp: iat + 3600,
        sub: '1122334455',
        google: { compute_engine: { instance_id: '4567890123456789012', instance_name: 'web-1', project_id: 'shop-prod', zone: 'europe-west1-b' } },
      };
      const signed = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'g1', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      res.writeHead(200).end(`${signed}.${sign('sha256', Buffer.from(signed), google.privateKey).toString('base64url')}`);
    } else if (url.pathname === '/metadata/attested/document' && req.headers.metadata === 'true') {
      const now = Date.now();
      const content = JSON.stringify({ nonce: url.searchParams.get('nonce'), subscriptionId: SUBSCRIPTION, vmId: VM_ID, sku: '22_04-lts-gen2', timeStamp: { createdOn: azureTime(now - 5000), expiresOn: azureTime(now + 6 * 3600_000) } });
      const envelope = pki.cmsSign(Buffer.from(content), signer, { signedAttributes: false });
      res.writeHead(200).end(JSON.stringify({ encoding: 'pkcs7', signature: envelope.toString('base64') }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => metadata.listen(0, '127.0.0.1', () => r()));
  metadataUrl = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}`;
  hub = await startTestHub({ BITENVOY_PUBLIC_URL: 'https://hub.test', BITENVOY_GCP_JWKS: jwks, BITENVOY_AZURE_ROOTS: roots });
});

afterAll(async () => {
  await hub?.close();
  await new Promise((r) => (metadata ? metadata.close(r) : r(undefined)));
  pki?.cleanup();
});

async function clientFor(name: string): Promise<HubClient> {
  const { credential } = await hub.enroll(name);
  return new HubClient({ hub: hub.url, credential, log: silentLogger() });
}

describe('cloud attestation through a real hub', () => {
  it('GCP: the agent asks for a nonce, gets a token for the hub’s audience, and the hub binds it', async () => {
    const client = await clientFor('gcp-1');
    expect(await proveCloudIdentity({ provider: 'gcp', metadataUrl }, client)).toBe('gcp/shop-prod/4567890123456789012');
    // The same instance for a second agent: refused, naming the holder.
    await expect(proveCloudIdentity({ provider: 'gcp', metadataUrl }, await clientFor('gcp-2'))).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/already bound to agent gcp-1/) });
  });

  it('Azure: the agent’s attested data for the hub’s nonce binds it; a replayed nonce does not', async () => {
    const client = await clientFor('azure-1');
    expect(await proveCloudIdentity({ provider: 'azure', metadataUrl }, client)).toBe(`azure/${SUBSCRIPTION}/${VM_ID}`);
    // Evidence made for a nonce the hub already spent proves nothing.
    const { nonce } = await client.cloudNonce('azure');
    const evidence = JSON.parse(await (await fetch(`${metadataUrl}/metadata/attested/document?api-version=2020-09-01&nonce=${nonce}`, { headers: { metadata: 'true' } })).text()) as { encoding: string; signature: string };
    await client.attest({ provider: 'azure', attested: evidence, nonce });
    await expect(client.attest({ provider: 'azure', attested: evidence, nonce })).rejects.toMatchObject({ status: 403, code: 'BE_ATTESTATION_REFUSED' });
  });
});
