/**
 * Attestation start to end on a real SQLite store, per provider: the hub issues a nonce, the "instance" signs evidence
 * with it, the hub verifies and binds. Replays, borrowed nonces, second agents and moved agents are refused with why.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { attestAgent, type AttestationTrust, type CloudEvidence } from '../../app/cloud/attest-agent.js';
import { gcpAudience, readJwks } from '../../app/cloud/attest-gcp.js';
import { issueNonce } from '../../app/cloud/attest-nonce.js';
import { refusalError, type RefusalReason } from '../../app/cloud/attest-refusal.js';
import type { BindResult } from '../../app/cloud/identity-bindings.js';
import { IdentityBindings } from '../../app/cloud/identity-bindings.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import { TestPki, type Issued } from './test-pki.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
/** Azure evidence is checked against certificates openssl makes now, valid from now: its clock must be real. */
const AZ_NOW = Math.floor(Date.now() / 1000) * 1000 + 60_000;
const HUB = 'https://hub.example/bitenvoy';
const web1 = { id: 'ag_1', name: 'web-1' };
const web2 = { id: 'ag_2', name: 'web-2' };

const google = generateKeyPairSync('rsa', { modulusLength: 2048 });
let pki: TestPki;
let awsCert: Issued;
let azureRoot: Issued;
let azureSigner: Issued;
let trust: AttestationTrust;
beforeAll(async () => {
  pki = await TestPki.create();
  awsCert = pki.root('Amazon Web Services LLC (test)', { ca: false });
  azureRoot = pki.root('Test Azure Root CA');
  azureSigner = pki.issue('eastus.metadata.azure.com', azureRoot, { dns: ['eastus.metadata.azure.com'] });
  trust = {
    aws: { certificates: [awsCert.cert], firstBindWithinMs: 3600_000 },
    gcp: { keys: readJwks(JSON.stringify({ keys: [{ ...google.publicKey.export({ format: 'jwk' }), kid: 'g1' }] }), 'test'), hubUrl: HUB },
    azure: { roots: [azureRoot.cert] },
  };
});
afterAll(() => pki.cleanup());

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-attest-'));
  store = await openStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** What a GCE VM's metadata server would hand an agent for the hub's nonce. */
function gcpToken(nonce: string, instanceId = '4567890123456789012'): string {
  const iat = Math.floor(NOW / 1000) - 5;
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ alg: 'RS256', kid: 'g1', typ: 'JWT' })}.${b64({
    iss: 'https://accounts.google.com',
    aud: gcpAudience(HUB, nonce),
    iat,
    exp: iat + 3600,
    google: { compute_engine: { project_id: 'shop-prod', zone: 'europe-west1-b', instance_id: instanceId, instance_name: 'web' } },
  })}`;
  return `${body}.${sign('sha256', Buffer.from(body), google.privateKey).toString('base64url')}`;
}

function awsEvidence(instanceId = 'i-0abc1234def567890', pendingTime = '2026-11-25T11:50:00Z'): Extract<CloudEvidence, { provider: 'aws' }> {
  const document = `{\n  "accountId" : "123456789012",\n  "instanceId" : "${instanceId}",\n  "region" : "eu-west-1",\n  "availabilityZone" : "eu-west-1a",\n  "pendingTime" : "${pendingTime}"\n}`;
  return { provider: 'aws', document, signature: sign('sha256', Buffer.from(document), awsCert.privateKey).toString('base64') };
}

function azureEvidence(nonce: string): CloudEvidence {
  const stamp = (ms: number) => {
    const d = new Date(ms);
    const two = (n: number) => String(n).padStart(2, '0');
    return `${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} -0000`;
  };
  const content = JSON.stringify({ nonce, subscriptionId: '8d10da13-8125-4ba9-a717-bf7490507b3d', vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6', timeStamp: { createdOn: stamp(AZ_NOW - 5000), expiresOn: stamp(AZ_NOW + 3600_000) } });
  const signature = pki.cmsSign(Buffer.from(content), azureSigner, { signedAttributes: false }).toString('base64');
  return { provider: 'azure', attested: { encoding: 'pkcs7', signature }, nonce };
}

function expectRefused(result: BindResult, reason: RefusalReason, message?: RegExp): void {
  expect(result.bound).toBe(false);
  if (result.bound) return;
  expect(result.refusal.reason).toBe(reason);
  if (message) expect(result.refusal.message).toMatch(message);
}

describe('attestAgent with GCP identity tokens', () => {
  it('binds the agent whose token carries the nonce the hub gave it', async () => {
    const { nonce } = await issueNonce(store, web1.id, { provider: 'gcp', now: NOW });
    const result = await attestAgent(store, web1, { provider: 'gcp', token: gcpToken(nonce), nonce }, trust, NOW);
    expect(result).toMatchObject({ bound: true, binding: { agentId: 'ag_1', agentName: 'web-1', identity: { provider: 'gcp', account: 'shop-prod', instanceId: '4567890123456789012', region: 'europe-west1' } } });
    expect(await new IdentityBindings(store).provedIdentities()).toEqual(new Map([['ag_1', expect.objectContaining({ instanceId: '4567890123456789012' })]]));
  });

  it('refuses the same token and nonce sent again (a replay)', async () => {
    const { nonce } = await issueNonce(store, web1.id, { provider: 'gcp', now: NOW });
    const evidence: CloudEvidence = { provider: 'gcp', token: gcpToken(nonce), nonce };
    expect((await attestAgent(store, web1, evidence, trust, NOW)).bound).toBe(true);
    expectRefused(await attestAgent(store, web1, evidence, trust, NOW + 1000), 'wrong-nonce', /already used/);
  });

  it('refuses a token made for another agent\'s nonce', async () => {
    const { nonce } = await issueNonce(store, web2.id, { provider: 'gcp', now: NOW });
    expectRefused(await attestAgent(store, web1, { provider: 'gcp', token: gcpToken(nonce), nonce }, trust, NOW), 'wrong-nonce', /issued to another agent/);
  });

  it('refuses a token whose audience names another nonce than the one sent, and spends the nonce anyway', async () => {
    const { nonce } = await issueNonce(store, web1.id, { provider: 'gcp', now: NOW });
    const { nonce: other } = await issueNonce(store, web1.id, { provider: 'gcp', now: NOW });
    expectRefused(await attestAgent(store, web1, { provider: 'gcp', token: gcpToken(other), nonce }, trust, NOW), 'wrong-audience');
    expectRefused(await attestAgent(store, web1, { provider: 'gcp', token: gcpToken(nonce), nonce }, trust, NOW), 'wrong-nonce', /already used/);
  });

  it('refuses a second agent for the same instance, and quarantines an agent that moved', async () => {
    const first = await issueNonce(store, web1.id, { provider: 'gcp', now: NOW });
    await attestAgent(store, web1, { provider: 'gcp', token: gcpToken(first.nonce), nonce: first.nonce }, trust, NOW);
    const second = await issueNonce(store, web2.id, { provider: 'gcp', now: NOW });
    const taken = await attestAgent(store, web2, { provider: 'gcp', token: gcpToken(second.nonce), nonce: second.nonce }, trust, NOW);
    expectRefused(taken, 'already-bound', /already bound to agent web-1 \(ag_1\)/);
    const moved = await issueNonce(store, web1.id, { provider: 'gcp', now: NOW });
    expectRefused(await attestAgent(store, web1, { provider: 'gcp', token: gcpToken(moved.nonce, '999'), nonce: moved.nonce }, trust, NOW), 'quarantined', /proved gcp\/shop-prod\/999/);
  });
});

describe('attestAgent with Azure attested data', () => {
  it('binds with a 10-digit hub nonce, once', async () => {
    const { nonce } = await issueNonce(store, web1.id, { provider: 'azure', now: AZ_NOW });
    const evidence = azureEvidence(nonce);
    expect(await attestAgent(store, web1, evidence, trust, AZ_NOW)).toMatchObject({ bound: true, binding: { identity: { provider: 'azure', instanceId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6' } } });
    expectRefused(await attestAgent(store, web1, evidence, trust, AZ_NOW), 'wrong-nonce', /already used/);
  });

  it('refuses an envelope it cannot read without spending the nonce: the intact evidence still binds with it', async () => {
    const { nonce } = await issueNonce(store, web1.id, { provider: 'azure', now: AZ_NOW });
    const evidence = azureEvidence(nonce) as Extract<CloudEvidence, { provider: 'azure' }>;
    const mangled = Buffer.from(evidence.attested.signature, 'base64').subarray(0, 200).toString('base64');
    expectRefused(await attestAgent(store, web1, { ...evidence, attested: { encoding: 'pkcs7', signature: mangled } }, trust, AZ_NOW), 'malformed', /send the IMDS response as it is/);
    expect((await attestAgent(store, web1, evidence, trust, AZ_NOW)).bound).toBe(true);
  });

  it('spends the nonce on evidence it can read but does not trust', async () => {
    const { nonce } = await issueNonce(store, web1.id, { provider: 'azure', now: AZ_NOW });
    const evidence = azureEvidence(nonce) as Extract<CloudEvidence, { provider: 'azure' }>;
    const der = Buffer.from(evidence.attested.signature, 'base64');
    const at = der.indexOf(Buffer.from('02aab8a4'));
    der[at] = 0x31; // one character of the vmId: the signature no longer verifies
    expectRefused(await attestAgent(store, web1, { ...evidence, attested: { encoding: 'pkcs7', signature: der.toString('base64') } }, trust, AZ_NOW), 'tampered');
    expectRefused(await attestAgent(store, web1, evidence, trust, AZ_NOW), 'wrong-nonce', /already used/);
  });

  it('refuses attested data for a nonce the hub never issued', async () => {
    expectRefused(await attestAgent(store, web1, azureEvidence('5555555555'), trust, AZ_NOW), 'wrong-nonce', /unknown to this hub/);
  });
});

describe('attestAgent with AWS identity documents', () => {
  it('binds one agent per instance; the document alone cannot move the instance to another agent', async () => {
    expect((await attestAgent(store, web1, awsEvidence(), trust, NOW)).bound).toBe(true);
    // The document is the same for everyone who reads it: the second agent gets the holder's name, not the instance.
    expectRefused(await attestAgent(store, web2, awsEvidence(), trust, NOW), 'already-bound', /web-1/);
    // The bound agent re-attests with the same document as often as it likes.
    expect((await attestAgent(store, web1, awsEvidence(), trust, NOW + 3600_000)).bound).toBe(true);
  });

  it('refuses a document from before the instance\'s last start as a replay', async () => {
    expect((await attestAgent(store, web1, awsEvidence(undefined, '2026-11-25T11:50:00Z'), trust, NOW)).bound).toBe(true);
    expectRefused(await attestAgent(store, web1, awsEvidence(undefined, '2026-11-25T11:00:00Z'), trust, NOW), 'replayed');
  });

  it('allows a first binding only soon after launch, later re-attestations any time', async () => {
    const old = awsEvidence('i-0old1234def567890', '2026-11-01T00:00:00Z');
    expectRefused(await attestAgent(store, web1, old, trust, NOW), 'expired', /longer ago than the 60 min the hub allows for a first binding/);
    expect((await attestAgent(store, web2, awsEvidence(), trust, NOW)).bound).toBe(true);
    expect((await attestAgent(store, web2, awsEvidence(), trust, NOW + 30 * 86_400_000)).bound).toBe(true);
  });
});

describe('refusals as hub errors', () => {
  it('answers a provider the hub has no trust for, a conflict and bad evidence each with their status', async () => {
    const unconfigured = await attestAgent(store, web1, awsEvidence(), {}, NOW);
    expectRefused(unconfigured, 'unsupported', /not configured to verify aws/);
    await attestAgent(store, web1, awsEvidence(), trust, NOW);
    const conflict = await attestAgent(store, web2, awsEvidence(), trust, NOW);
    const tampered = await attestAgent(store, web1, { ...awsEvidence(), document: '{}' }, trust, NOW);
    expect(!conflict.bound && refusalError(conflict.refusal)).toMatchObject({ code: 'BE_CONFLICT', status: 409, details: { reason: 'already-bound' } });
    expect(!tampered.bound && refusalError(tampered.refusal)).toMatchObject({ code: 'BE_ATTESTATION_REFUSED', status: 403, details: { reason: 'tampered' } });
  });
});
