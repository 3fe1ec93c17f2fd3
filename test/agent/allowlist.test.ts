/**
 * The matching rules of the agent's allowlist, table-driven: repositories, branches, and where code may come from
 * (`allow.gitBaseUrls`), with the exact refusal a person reads.
 */
import { describe, expect, it } from 'vitest';
import { matchesBranch, matchesRepository, refusalReason } from '../../agent/allowlist.js';
import { gitUrlRefusal } from '../../agent/allowed-git-url.js';
import { clipped, listed } from '../../agent/listed.js';

describe('allow.repositories', () => {
  it.each([
    ['acme/shop', 'acme/shop', true],
    ['acme/shop', 'acme/shopping', false],
    ['acme/*', 'acme/shop', true],
    ['acme/*', 'acmeco/shop', false],
    ['acme/*', 'acme/shop/extra', false],
    ['acme/*', 'other/shop', false],
  ])('%s matches %s: %s', (pattern, repository, expected) => {
    expect(matchesRepository(pattern, repository)).toBe(expected);
  });
});

describe('allow.branches', () => {
  it.each([
    ['main', 'main', true],
    ['main', 'main2', false],
    ['main', 'feature/main', false],
    ['release/*', 'release/2.1', true],
    ['release/*', 'release/', false],
    ['release/*', 'release/2.1/fix', false],
    ['release/*', 'releases/2.1', false],
    ['release-*', 'release-7', true],
    ['*', 'main', true],
    ['*', 'feature/x', false],
    // Nothing under refs/ is a branch, even a branch literally named so: it would pass for a pull request's head.
    ['refs/*', 'refs/pull', false],
    ['refs/pull/1/head', 'refs/pull/1/head', false],
    ['refs/*', 'refs/x', false],
  ])('%s matches %s: %s', (pattern, branch, expected) => {
    expect(matchesBranch(pattern, branch)).toBe(expected);
  });
});

describe('allow.gitBaseUrls', () => {
  const github = ['https://github.com/'];
  it.each([
    ['https://github.com/acme/shop.git', github],
    ['https://github.com/acme/shop', github],
    ['https://github.com/acme/shop/', github],
    ['HTTPS://GitHub.COM/acme/shop.git', github],
    ['https://github.com/acme/shop.git', ['https://github.com']],
    ['https://github.com/acme/shop.git', ['https://github.com///']],
    ['https://git.internal.example/scm/acme/shop.git', ['https://github.com/', 'https://git.internal.example/scm']],
    ['ssh://git@git.internal.example/acme/shop.git', ['ssh://git@git.internal.example/']],
    ['file:///srv/git/acme/shop.git', ['file:///srv/git/']],
    ['/srv/git/acme/shop.git', ['/srv/git']],
  ])('accepts %s with bases %j', (url, bases) => {
    expect(gitUrlRefusal(bases, 'acme/shop', url)).toBeUndefined();
  });

  it('accepts anything when not set, as before', () => {
    expect(gitUrlRefusal(undefined, 'acme/shop', 'https://evil.example/x.git')).toBeUndefined();
  });

  it.each([
    ['another host', 'https://evil.example/acme/shop.git', 'https://evil.example/'],
    ['a look-alike host', 'https://github.com.evil.example/acme/shop.git', 'https://github.com.evil.example/'],
    ['another scheme', 'http://github.com/acme/shop.git', 'http://github.com/'],
    ['a path below the base', 'https://github.com/mirror/acme/shop.git', 'https://github.com/mirror/'],
  ])('refuses %s and says which base would allow it', (_what, url, base) => {
    expect(gitUrlRefusal(github, 'acme/shop', url)).toBe(
      `this agent's allowlist does not accept git URL ${url} for acme/shop (allow.gitBaseUrls: https://github.com/); ` +
        `the server's owner can add \`${base}\` to allow.gitBaseUrls in agent.yml and restart the agent`,
    );
  });

  it.each([
    ['https://github.com/acme/other.git', 'the URL does not end in acme/shop or acme/shop.git, so it is not that repository'],
    ['https://github.com/acme/shop.git.evil', 'the URL does not end in acme/shop or acme/shop.git, so it is not that repository'],
    ['https://x-access-token:ghs_1@github.com/acme/shop.git', 'such a URL is never accepted'],
    ['https://github.com/evil/../acme/shop.git', 'such a URL is never accepted'],
    ['https://github.com/acme/shop.git?upload-pack=x', 'such a URL is never accepted'],
    ['https://github.com/acme/shop.git#main', 'such a URL is never accepted'],
    ['https://github.com/%61cme/shop.git', 'such a URL is never accepted'],
  ])('refuses %s for good: %s', (url, why) => {
    const reason = gitUrlRefusal(github, 'acme/shop', url);
    expect(reason).toContain(`does not accept git URL ${url} for acme/shop (`);
    expect(reason).toContain(`; ${why}: if the hub's configuration really says so, fix the repository's \`git\` URL there; a hub that sends it unasked may have been tampered with`);
  });

  it.each([
    ['https://x-access-token:ghs_1@github.com/acme/shop.git', "it carries a user name or password; credentials come from the hub as a header (GitHub mode) or from this server's own git credentials (a credential helper or ~/.netrc), never in the URL"],
    ['ssh://root@github.com/acme/shop.git', "it carries a user name or password; credentials come from the hub as a header (GitHub mode) or from this server's own git credentials (a credential helper or ~/.netrc), never in the URL"],
    ['https://github.com/evil/../acme/shop.git', 'it has a `.` or `..` path segment'],
    ['https://github.com/acme/shop.git?x=1', 'it has a query string'],
    ['https://github.com/acme/shop.git#x', 'it has a fragment'],
    ['https://github.com/%2e%2e/acme/shop.git', 'it has `%` escapes, which could hide a `/` or `..`'],
    ['https://github.com/acme/shop.git\nx', 'it contains spaces, control characters or backslashes'],
  ])('names what is wrong with %j', (url, flaw) => {
    expect(gitUrlRefusal(['https://github.com/', 'ssh://git@github.com/'], 'acme/shop', url)).toContain(`(${flaw}; allow.gitBaseUrls: `);
  });

  it('accepts the user name of an ssh base, and no other', () => {
    const bases = ['ssh://git@git.example.com/'];
    expect(gitUrlRefusal(bases, 'acme/shop', 'ssh://git@git.example.com/acme/shop.git')).toBeUndefined();
    expect(gitUrlRefusal(bases, 'acme/shop', 'ssh://git.example.com/acme/shop.git')).toContain('does not accept');
    expect(gitUrlRefusal(bases, 'acme/shop', 'ssh://git:pw@git.example.com/acme/shop.git')).toContain('user name or password');
  });
});

describe('refusalReason', () => {
  const job = { repository: 'acme/shop', environment: 'production', git: { url: 'https://github.com/acme/shop.git' }, instructions: 'bitenvoy.yml' };

  it('checks repositories, then environments, then the instruction file, then where the code comes from', () => {
    expect(refusalReason(undefined, job)).toBeUndefined();
    expect(refusalReason({ repositories: ['acme/*'], environments: ['production'], gitBaseUrls: ['https://github.com/'] }, job)).toBeUndefined();
    expect(refusalReason({ repositories: ['tools/*'], environments: ['staging'] }, job)).toMatch(/^this agent's allowlist does not accept repository acme\/shop/);
    expect(refusalReason({ environments: ['staging'], gitBaseUrls: [] }, job)).toMatch(/^this agent's allowlist does not accept environment production/);
    expect(refusalReason({ gitBaseUrls: [] }, job)).toBe(
      "this agent's allowlist does not accept git URL https://github.com/acme/shop.git for acme/shop (allow.gitBaseUrls: empty); " +
        "the server's owner can add `https://github.com/` to allow.gitBaseUrls in agent.yml and restart the agent",
    );
  });

  it('accepts only the instruction files of allow.instructions, bitenvoy.yml when it is left out', () => {
    const docs = { ...job, instructions: 'docs/example-bitenvoy.yml' };
    expect(refusalReason(undefined, docs)).toBe(
      "this agent's allowlist does not accept the instruction file docs/example-bitenvoy.yml (allow.instructions: bitenvoy.yml): " +
        "if this repository's config really names it, the server's owner can add `docs/example-bitenvoy.yml` to allow.instructions in agent.yml and restart the agent; " +
        'a hub that names it unasked may have been tampered with',
    );
    expect(refusalReason({ gitBaseUrls: [] }, docs)).toMatch(/^this agent's allowlist does not accept the instruction file/);
    expect(refusalReason({ instructions: ['deploy/bitenvoy.yml'] }, job)).toMatch(/does not accept the instruction file bitenvoy\.yml \(allow\.instructions: deploy\/bitenvoy\.yml\)/);
    expect(refusalReason({ instructions: ['bitenvoy.yml', 'docs/example-bitenvoy.yml'] }, docs)).toBeUndefined();
    expect(refusalReason(undefined, { ...job, instructions: './bitenvoy.yml' })).toBeUndefined();
    expect(refusalReason(undefined, { ...job, instructions: 'a b/c.yml' })).toMatch(/such a path is never accepted/);
  });

  it('keeps refusals short enough for the hub however long the lists are', () => {
    const repositories = Array.from({ length: 500 }, (_v, i) => `owner-${i}/${'n'.repeat(90)}`);
    const reason = refusalReason({ repositories }, job)!;
    expect(reason).toMatch(/\(\+\d+ more\)\); the server's owner can add `acme\/shop`/);
    expect(reason.length).toBeLessThan(1000);
    const bases = Array.from({ length: 50 }, (_v, i) => `https://h${i}.example/${'p'.repeat(480)}/`);
    expect(refusalReason({ gitBaseUrls: bases }, { ...job, git: { url: `https://x.example/${'q'.repeat(2000)}/acme/shop` } })!.length).toBeLessThan(1500);
  });
});

describe('listed and clipped', () => {
  it('shows a few items and counts the rest', () => {
    expect(listed([])).toBe('empty');
    expect(listed(['main', 'release/*'])).toBe('main, release/*');
    expect(listed(['a', 'b', 'c'], 2)).toBe('a, b (+1 more)');
    expect(clipped('abcdef', 3)).toBe('abc…');
  });
});
