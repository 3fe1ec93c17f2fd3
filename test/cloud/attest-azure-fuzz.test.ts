/**
 * Mutation fuzzing of the Azure verifier: a valid IMDS-shaped envelope with a few of its bytes changed must always be
 * answered with a refusal that has a reason (or, for a change the signature does not cover, the same identity) —
 * never an exception, which the hub would answer with a 500.
 *
 * Deterministic: a seeded generator, so a failure names the seed and iteration that reproduce it. 2,000 mutations of
 * the IMDS-shaped envelope in the normal suite; `FUZZ_MUTATIONS=20000 npx vitest run test/cloud/attest-azure-fuzz.test.ts`
 * for the long run, and `FUZZ_SEED=<n>` to explore other inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAzureIdentity, type AzureTrust } from '../../app/cloud/attest-azure.js';
import { REFUSAL_REASONS } from '../../app/cloud/attest-refusal.js';
import { seeded } from '../helpers/seeded-random.js';
import { azureTime, TestPki, type Issued } from './test-pki.js';

const MUTATIONS = Number(process.env.FUZZ_MUTATIONS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_125);
const NOW = Math.floor(Date.now() / 1000) * 1000 + 60_000;
const NONCE = '0123456789';


/** One to four bytes replaced; now and then a byte dropped or inserted, which shifts every length after it. */
function mutate(bytes: Buffer, next: () => number): Buffer {
  const at = () => Math.floor(next() * bytes.length);
  const roll = next();
  if (roll < 0.05) {
    const i = at();
    return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
  }
  if (roll < 0.1) {
    const i = at();
    return Buffer.concat([bytes.subarray(0, i), Buffer.from([Math.floor(next() * 256)]), bytes.subarray(i)]);
  }
  const out = Buffer.from(bytes);
  const count = roll < 0.85 ? 1 : 2 + Math.floor(next() * 3);
  for (let k = 0; k < count; k++) {
    const i = at();
    let value = Math.floor(next() * 256);
    if (value === out[i]) value ^= 0xff;
    out[i] = value;
  }
  return out;
}

let pki: TestPki;
let content: Buffer;
const shapes: Record<string, { envelope: Buffer; trust: AzureTrust }> = {};
beforeAll(async () => {
  pki = await TestPki.create();
  const root = pki.root('Fuzz Azure Root CA');
  const intermediate = pki.issue('Fuzz Azure TLS Issuing CA', root, { ca: true });
  const signer: Issued = pki.issue('eastus.metadata.azure.com', intermediate, { dns: ['eastus.metadata.azure.com'] });
  content = Buffer.from(JSON.stringify({
    nonce: NONCE,
    subscriptionId: '8d10da13-8125-4ba9-a717-bf7490507b3d',
    timeStamp: { createdOn: azureTime(NOW - 20_000), expiresOn: azureTime(NOW + 6 * 3600_000) },
    vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6',
  }));
  // As IMDS signs: no signed attributes, only the signer's certificate inside; the hub pins the intermediate.
  shapes.imds = { envelope: pki.cmsSign(content, signer, { signedAttributes: false }), trust: { roots: [root.cert], intermediates: [intermediate.cert] } };
  // The chain inside and nothing pinned: mutated intermediates reach OpenSSL's verifier too.
  shapes.chain = { envelope: pki.cmsSign(content, signer, { extraCerts: [intermediate] }), trust: { roots: [root.cert] } };
});
afterAll(() => pki.cleanup());

/**
 * The IMDS shape gets every mutation. The chain shape gets a fifth: a mutated intermediate that still issued the signer
 * costs an `openssl verify` run (about 10 ms), where the IMDS shape's mutations are refused before any process starts.
 */
describe.each([
  ['imds', MUTATIONS],
  ['chain', Math.ceil(MUTATIONS / 5)],
])(`verifyAzureIdentity under seeded mutations (seed ${SEED}) of the %s envelope`, (shape, mutations) => {
  it(`answers each of ${mutations} mutated envelopes with a verdict, never an exception`, async () => {
    const { envelope, trust } = shapes[shape]!;
    const valid = await verifyAzureIdentity({ encoding: 'pkcs7', signature: envelope.toString('base64') }, trust, { nonce: NONCE, now: NOW });
    expect(valid.ok).toBe(true);
    const next = seeded(SEED);
    const counts = new Map<string, number>();
    for (let i = 0; i < mutations; i++) {
      const mutated = mutate(envelope, next);
      let result;
      try {
        result = await verifyAzureIdentity({ encoding: 'pkcs7', signature: mutated.toString('base64') }, trust, { nonce: NONCE, now: NOW });
      } catch (err) {
        throw new Error(`mutation ${i} of the ${shape} envelope (seed ${SEED}) threw instead of refusing: ${(err as Error).stack}\nenvelope: ${mutated.toString('base64')}`, { cause: err });
      }
      if (result.ok) {
        // A change outside what is signed and checked (the signer's serial number in SignerInfo, say) changes nothing.
        expect(result).toEqual(valid);
      } else {
        expect(REFUSAL_REASONS).toContain(result.refusal.reason);
        expect(result.refusal.message.length).toBeGreaterThan(20);
      }
      const key = result.ok ? 'ok' : result.refusal.reason;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    // Most mutations break the signature or the envelope; both kinds must be among the answers.
    expect(counts.get('malformed')).toBeGreaterThan(0);
    expect(counts.get('tampered')).toBeGreaterThan(0);
    console.log(`azure fuzz, ${shape} envelope, seed ${SEED}: ${JSON.stringify(Object.fromEntries(counts))}`);
  }, 600_000);
});
