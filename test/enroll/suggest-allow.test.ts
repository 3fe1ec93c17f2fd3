/**
 * What the hub suggests an enrolling agent pin: the GitHub host in GitHub mode, the bases of the configured `git:`
 * URLs (credentials stripped), the union of the environments' branches — sorted and bounded.
 */
import { describe, expect, it } from 'vitest';
import { gitBaseUrl, githubWebUrl, suggestAllow } from '../../app/enroll/suggest-allow.js';
import type { LoadedConfig, ResolvedRepository } from '../../config-schema/validate-config-dir.js';

function config(repositories: Record<string, { git?: string; branches: string[] }>): LoadedConfig {
  const repos: Record<string, ResolvedRepository> = {};
  for (const [name, { git, branches }] of Object.entries(repositories)) {
    const environments = Object.fromEntries(branches.map((branch, i) => [`env-${i}`, { branch, group: 'web' }]));
    repos[name] = { name, file: `repositories/${name}.yml`, instructions: 'bitenvoy.yml', ...(git ? { git } : {}), environments } as ResolvedRepository;
  }
  return { groups: {}, strategies: {}, repositories: repos };
}

describe('suggestAllow', () => {
  it('in local mode: the base of every configured git URL and the sorted union of the environments’ branches', () => {
    const configs = [
      config({
        'acme/shop': { git: 'https://token:x-oauth@git.example.com/scm/acme/shop.git', branches: ['main', 'release/2.1'] },
        'acme/tools': { git: 'https://git.example.com/scm/acme/tools', branches: ['main'] },
        'ops/site': { git: 'ssh://git@git.internal.example:2222/ops/site.git', branches: ['production'] },
      }),
    ];
    expect(suggestAllow({ configs })).toEqual({
      gitBaseUrls: ['https://git.example.com/scm/', 'ssh://git@git.internal.example:2222/'],
      branches: ['main', 'production', 'release/2.1'],
      repositories: ['acme/*', 'ops/*'],
    });
  });

  it('in GitHub mode: github.com, or the Enterprise Server host, plus any configured git URL', () => {
    expect(suggestAllow({ github: {}, configs: [config({ 'acme/shop': { branches: ['main'] } })] })).toEqual({ gitBaseUrls: ['https://github.com/'], branches: ['main'], repositories: ['acme/*'] });
    expect(suggestAllow({ github: { baseUrl: 'http://ghe.example.com:8080/api/v3' }, configs: [config({ 'acme/shop': { git: 'https://mirror.example/acme/shop.git', branches: ['main'] } })] })).toEqual({
      gitBaseUrls: ['http://ghe.example.com:8080/', 'https://mirror.example/'],
      branches: ['main'],
      repositories: ['acme/*'],
    });
    expect(githubWebUrl(undefined)).toBe('https://github.com/');
  });

  it('leaves out what an agent could not pin: local paths, URLs not ending in the repository, odd branch names', () => {
    const configs = [
      config({
        'acme/a': { git: '/srv/git/acme/a.git', branches: ['feature/#12'] },
        'acme/b': { git: 'file:///srv/git/acme/b.git', branches: ['refs/pull/1/head'] },
        'acme/c': { git: 'https://git.example.com/elsewhere.git', branches: ['-x'] },
        'acme/d': { git: 'git://git.example.com/acme/d.git', branches: ['main'] },
      }),
    ];
    expect(suggestAllow({ configs })).toEqual({ gitBaseUrls: [], branches: ['main'], repositories: ['acme/*'] });
    expect(gitBaseUrl('https://git.example.com/acme/shop.git?x=1', 'acme/shop')).toBeUndefined();
    expect(gitBaseUrl('not a url', 'acme/shop')).toBeUndefined();
  });

  it('bounds both lists (50 base URLs, 100 branches), whatever the configs hold', () => {
    const repositories = Object.fromEntries(
      Array.from({ length: 120 }, (_v, i) => [`o${i}/r`, { git: `https://h${String(i).padStart(3, '0')}.example/o${i}/r.git`, branches: [`b${String(i).padStart(3, '0')}`] }]),
    );
    const suggested = suggestAllow({ configs: [config(repositories)] });
    expect(suggested.gitBaseUrls).toHaveLength(50);
    expect(suggested.gitBaseUrls[0]).toBe('https://h000.example/');
    expect(suggested.branches).toHaveLength(100);
    expect(suggested.branches.at(-1)).toBe('b099');
  });
});
