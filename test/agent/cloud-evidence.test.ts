/**
 * Gathering cloud evidence from an instance metadata service played over real HTTP on loopback: the agent speaks each
 * provider's protocol (IMDSv2's session token, GCP's and Azure's required headers) and passes the evidence on
 * byte for byte.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { gatherEvidence } from '../../agent/cloud-evidence.js';

let server: Server | undefined;
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = [];
afterEach(async () => {
  seen.length = 0;
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function metadataService(answer: (req: IncomingMessage) => [number, string]): Promise<string> {
  server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    const [status, body] = answer(req);
    res.writeHead(status).end(body);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

// Exactly as IMDS serves it: pretty-printed, so re-serialising would change the signed bytes.
const DOCUMENT = '{\n  "accountId" : "123456789012",\n  "instanceId" : "i-0abc",\n  "region" : "eu-west-1"\n}';

describe('gatherEvidence', () => {
  it('AWS: takes an IMDSv2 session token first, then the document and signature byte for byte', async () => {
    const base = await metadataService((req) => {
      if (req.method === 'PUT' && req.url === '/latest/api/token') return req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === '60' ? [200, 'tok-1'] : [400, 'ttl'];
      if (req.headers['x-aws-ec2-metadata-token'] !== 'tok-1') return [401, 'IMDSv2 token required'];
      if (req.url === '/latest/dynamic/instance-identity/document') return [200, DOCUMENT];
      if (req.url === '/latest/dynamic/instance-identity/signature') return [200, 'c2lnbmF0dXJl\n'];
      return [404, ''];
    });
    expect(await gatherEvidence('aws', { baseUrl: base })).toEqual({ provider: 'aws', document: DOCUMENT, signature: 'c2lnbmF0dXJl' });
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual(['PUT /latest/api/token', 'GET /latest/dynamic/instance-identity/document', 'GET /latest/dynamic/instance-identity/signature']);
  });

  it('GCP: asks for a full identity token for exactly the hub’s audience, with Metadata-Flavor', async () => {
    const audience = 'https://hub.example/bitenvoy?nonce=n_123';
    const base = await metadataService((req) => {
      if (req.headers['metadata-flavor'] !== 'Google') return [403, 'Missing Metadata-Flavor:Google header.'];
      const url = new URL(req.url!, 'http://x');
      return url.pathname === '/computeMetadata/v1/instance/service-accounts/default/identity' && url.searchParams.get('format') === 'full' ? [200, `jwt-for:${url.searchParams.get('audience')}\n`] : [404, ''];
    });
    expect(await gatherEvidence('gcp', { baseUrl: base, audience, nonce: 'n_123' })).toEqual({ provider: 'gcp', token: `jwt-for:${audience}`, nonce: 'n_123' });
  });

  it('Azure: asks for the attested document for the hub’s nonce, with Metadata: true', async () => {
    const base = await metadataService((req) => {
      if (req.headers.metadata !== 'true') return [400, 'Required metadata header not specified'];
      const url = new URL(req.url!, 'http://x');
      return url.pathname === '/metadata/attested/document' ? [200, JSON.stringify({ encoding: 'pkcs7', signature: `sig-for-${url.searchParams.get('nonce')}` })] : [404, ''];
    });
    expect(await gatherEvidence('azure', { baseUrl: base, nonce: '1234567890' })).toEqual({ provider: 'azure', attested: { encoding: 'pkcs7', signature: 'sig-for-1234567890' }, nonce: '1234567890' });
  });

  it('says clearly when there is no metadata service, or it refuses', async () => {
    await expect(gatherEvidence('aws', { baseUrl: 'http://127.0.0.1:1', timeoutMs: 500 })).rejects.toThrow(/^cannot reach the instance metadata service for the IMDSv2 session token \(.*\): is this agent on a cloud instance/);
    const base = await metadataService(() => [403, 'forbidden']);
    await expect(gatherEvidence('gcp', { baseUrl: base, audience: 'a', nonce: 'n' })).rejects.toThrow('the instance metadata service answered 403 for the instance identity token: forbidden');
    await expect(gatherEvidence('gcp', { baseUrl: base })).rejects.toThrow("gcp attestation needs the hub's audience and nonce");
  });
});
