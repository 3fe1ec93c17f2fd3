/**
 * The trust root file: required when provenance is required (no silent pass without one), read as one JSON document or
 * as the JSON lines `gh attestation trusted-root` prints, and refused with the way to get a good one when it is not.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadTrustRoot } from '../../../agent/artifacts/load-trust-root.js';
import { verifyProvenance } from '../../../agent/artifacts/verify-provenance.js';
import { SigstoreTrust } from '../../../testbed/sigstore-trust.js';

let trust: SigstoreTrust;
beforeAll(async () => {
  trust = await SigstoreTrust.create();
});
afterAll(() => trust?.cleanup());

function file(name: string, text: string): string {
  writeFileSync(join(trust.dir, name), text);
  return name;
}

test('requireProvenance without a trust root is a configuration error that says how to get one', async () => {
  await expect(loadTrustRoot(undefined, trust.dir)).rejects.toMatchObject({
    code: 'BE_PROVENANCE',
    message: expect.stringMatching(/sets `requireProvenance` but no `requireProvenance.trustRoot`.*refuses every artifact.*`gh attestation trusted-root > trusted_root.json`/),
  });
  await expect(loadTrustRoot('', trust.dir)).rejects.toMatchObject({ code: 'BE_PROVENANCE' });
});

test('a relative path is read from the agent directory', async () => {
  const name = file('root.json', JSON.stringify(trust.trustedRoot()));
  const root = await loadTrustRoot(name, trust.dir);
  expect(root.path).toBe(join(trust.dir, name));
  expect(root.roots).toHaveLength(1);
  expect(root.roots[0]!.ctlogThreshold).toBe(1);
});

test.each([
  ['a missing file', undefined, /cannot read the trust root .*missing\.json .*ENOENT/],
  ['an empty file', '', /not a Sigstore trusted_root.json: the file is empty/],
  ['a file that is not JSON', '{"mediaType": ', /line 1 is not JSON/],
  ['a JSON array', '[]', /expected a JSON object/],
  ['another kind of document', JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }), /its mediaType is "application\/vnd.dev.sigstore.bundle.v0.3\+json"/],
  ['a root without a CA', 'no-ca', /lists no certificate authority/],
  ['a root without a transparency log', 'no-tlog', /has no usable root: .*lists no transparency log/],
  ['a root whose log key is not a key', 'bad-key', /cannot be read/],
])('%s is refused, with the way to get a good one', async (_name, text, reason) => {
  const root = trust.trustedRoot() as { certificateAuthorities: unknown[]; tlogs: { publicKey: { rawBytes: string } }[] };
  const variants: Record<string, () => string> = {
    'no-ca': () => JSON.stringify({ ...root, certificateAuthorities: [] }),
    'no-tlog': () => JSON.stringify({ ...root, tlogs: [] }),
    'bad-key': () => JSON.stringify({ ...root, tlogs: [{ ...root.tlogs[0], publicKey: { ...root.tlogs[0]!.publicKey, rawBytes: 'AAAA' } }] }),
  };
  const name = text === undefined ? 'missing.json' : file(`case-${createHash('sha1').update(String(_name)).digest('hex')}.json`, variants[text]?.() ?? text);
  const err = await loadTrustRoot(name, trust.dir).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: 'BE_PROVENANCE', message: expect.stringMatching(reason) });
  expect((err as Error).message).toContain('gh attestation trusted-root');
});

test('JSON lines: each line is a root; one without a log is kept out and named when a bundle is refused', async () => {
  const noLog = JSON.stringify({ ...trust.trustedRoot(), tlogs: [] });
  const name = file('lines.jsonl', `${noLog}\n${JSON.stringify(trust.trustedRoot())}\n`);
  const trustRoot = await loadTrustRoot(name, trust.dir);
  expect(trustRoot.roots).toHaveLength(1);
  expect(trustRoot.unusable).toEqual([expect.stringMatching(/\(root 1 of 2\) lists no transparency log/)]);

  const sha256 = createHash('sha256').update('x').digest('hex');
  const require = { repository: 'acme/shop', workflow: '.github/workflows/build.yml', commit: 'd'.repeat(40) };
  await expect(verifyProvenance({ sha256, bundles: [trust.sign({ sha256, ...require })], require, trustRoot })).resolves.toMatchObject({ commit: require.commit });
  const err = await verifyProvenance({ sha256, bundles: [trust.sign({ sha256, ...require, ca: 'foreign' })], require, trustRoot }).catch((e: unknown) => e);
  expect((err as Error).message).toMatch(/the certificate check failed.*\(not tried: .*root 1 of 2\) lists no transparency log/);
});

test('a file far bigger than any trust root is refused unread', async () => {
  const name = file('huge.json', ' '.repeat(4 * 1024 * 1024 + 1));
  await expect(loadTrustRoot(name, trust.dir)).rejects.toMatchObject({ message: expect.stringContaining('more than a Sigstore trusted root ever is') });
});
