/** What an instruction file's `artifacts:` may not say, each refused with its place and fix (config-schema/check-artifacts.ts). */
import { describe, expect, it } from 'vitest';
import { parseInstructions } from '../../config-schema/load-instructions.js';

const STEPS = 'steps:\n  - { name: run, run: ./bin/app }\n';
const URL = "url: { url: 'https://cdn.acme.com/a.tgz', sha256: " + 'a'.repeat(64) + ' }';

describe('artifacts in an instruction file', () => {
  it('accepts the release made of one artifact and another placed in it', () => {
    const text = `version: 1\nsource: artifact\nartifacts:\n  - { name: site, ${URL} }\n  - { name: tool, ${URL}, path: bin/tool, unpack: false }\n${STEPS}`;
    expect(parseInstructions(text, 'bitenvoy.yml').errors).toEqual([]);
  });

  it.each([
    ['no source', `source: artifact\nartifacts:\n  - { name: site }\n`, 'artifacts[0]', /names no source/],
    ['two sources', `source: artifact\nartifacts:\n  - { name: site, ${URL}, oci: { reference: 'ghcr.io/a/b:1' } }\n`, 'artifacts[0]', /names 2 sources/],
    ['the same name twice', `source: artifact\nartifacts:\n  - { name: site, ${URL} }\n  - { name: site, ${URL}, path: x }\n`, 'artifacts[1].name', /two artifacts are named `site`/],
    ['the same place twice', `source: artifact\nartifacts:\n  - { name: a, ${URL} }\n  - { name: b, ${URL} }\n`, 'artifacts[1].path', /both land at `.`/],
    ['the release itself under source: git', `artifacts:\n  - { name: site, ${URL} }\n`, 'artifacts[0].path', /would land on the release itself/],
    ['source: artifact without artifacts', `source: artifact\n`, 'source', /needs at least one artifact/],
    ['no artifact that is the release', `source: artifact\nartifacts:\n  - { name: site, ${URL}, path: public }\n`, 'artifacts', /one artifact must be the release itself/],
    ['a packed artifact with no file name', `source: artifact\nartifacts:\n  - { name: site, ${URL}, unpack: false }\n`, 'artifacts[0].unpack', /no file name/],
  ])('refuses %s', (_what, body, path, message) => {
    const { errors } = parseInstructions(`version: 1\n${body}${STEPS}`, 'bitenvoy.yml');
    expect(errors).toEqual(expect.arrayContaining([expect.objectContaining({ path, message: expect.stringMatching(message) })]));
    expect(errors.every((e) => e.hint)).toBe(true);
  });
});
