/**
 * The agent.yml enrollment writes: what the agent takes from the hub's suggestion (trust on first use, but checked
 * like anything a hub sends), flags winning over it, and a file that is valid YAML of the schema whatever the values.
 */
import { describe, expect, it } from 'vitest';
import { checkSuggestedAllow, pinAllowlist, renderAgentYml } from '../../agent/starter-agent-yml.js';
import type { AgentConfigFile } from '../../config-schema/types.generated.js';
import { validateYamlFile } from '../../config-schema/validate-yaml-file.js';

describe('checkSuggestedAllow', () => {
  it('takes https, http and ssh base URLs and exact branch names', () => {
    const suggested = { gitBaseUrls: ['https://github.com/', 'http://127.0.0.1:8080/scm/', 'ssh://git@git.example.com/'], branches: ['main', 'release/2.1'] };
    expect(checkSuggestedAllow(suggested)).toEqual({ value: suggested, dropped: [] });
    expect(checkSuggestedAllow(undefined)).toEqual({ value: {}, dropped: [] });
  });

  it('drops what a hub must never widen an agent to, and says what it dropped', () => {
    const { value, dropped } = checkSuggestedAllow({
      gitBaseUrls: ['https://github.com/', 'file:///etc/', '/srv/git/', 'git://git.example.com/', 'https://user:pw@git.example.com/', 'https://git.example.com/?x', 'https://git.example.com/%2e%2e/', `https://h.example/${'p'.repeat(600)}/`, 42, 'https://github.com/'],
      branches: ['main', '*', 'release/*', 'refs/pull/1/head', '-main', 'a b', null],
      extra: ['ignored'],
    });
    expect(value).toEqual({ gitBaseUrls: ['https://github.com/'], branches: ['main'] });
    expect(dropped).toEqual([
      'git base URL "file:///etc/"',
      'git base URL "/srv/git/"',
      'git base URL "git://git.example.com/"',
      'git base URL "https://user:pw@git.example.com/"',
      'git base URL "https://git.example.com/?x"',
      'git base URL "https://git.example.com/%2e%2e/"',
      `git base URL ${JSON.stringify(`https://h.example/${'p'.repeat(62)}…`)}`,
      'git base URL (a number)',
      'branch "*"',
      'branch "release/*"',
      'branch "refs/pull/1/head"',
      'branch "-main"',
      'branch "a b"',
      'branch (a null)',
    ]);
  });

  it('ignores a list that is not one or is longer than its bound, and a suggestion that is not an object', () => {
    const many = Array.from({ length: 101 }, (_v, i) => `b${i}`);
    expect(checkSuggestedAllow({ gitBaseUrls: 'https://github.com/', branches: many })).toEqual({
      value: {},
      dropped: ['the git base URL list (not a list)', 'the branch list (101 entries, more than 100)'],
    });
    expect(checkSuggestedAllow(['https://github.com/'])).toEqual({ value: {}, dropped: ['the whole suggestion (not an object)'] });
  });
});

describe('pinAllowlist and renderAgentYml', () => {
  const parse = (text: string) => {
    const result = validateYamlFile<AgentConfigFile>(text, 'agent', 'agent.yml');
    expect(result.errors).toEqual([]);
    return result.value!.allow;
  };

  it('pins flags over the suggestion key by key; without either, gitBaseUrls and branches are empty', () => {
    const pinned = pinAllowlist({ branches: ['main', 'release/*'] }, { gitBaseUrls: ['https://github.com/'], branches: ['main'] });
    expect(parse(renderAgentYml(pinned, { hub: 'https://hub.example', name: 'web-1' }))).toEqual({
      gitBaseUrls: ['https://github.com/'],
      branches: ['main', 'release/*'],
      instructions: ['bitenvoy.yml'],
    });
    expect(parse(renderAgentYml(pinAllowlist({}, {}), { hub: 'https://hub.example', name: 'web-1' }))).toEqual({ gitBaseUrls: [], branches: [], instructions: ['bitenvoy.yml'] });
  });

  it('says where each value came from, and keeps a line break in a name or URL inside its comment', () => {
    const pinned = pinAllowlist({ instructions: ['deploy/bitenvoy.yml'] }, { gitBaseUrls: ['https://github.com/'] });
    const text = renderAgentYml(pinned, { hub: 'https://hub.example\nallow: { gitBaseUrls: [https://evil.example/] }', name: 'web-1\nkeepReleases: 1', at: new Date('2026-01-02T03:04:05Z') });
    expect(text).toContain('# web-1?keepReleases: 1 at 2026-01-02T03:04:05.000Z;');
    expect(text).toContain('  # Value: suggested by the hub https://hub.example?allow: { gitBaseUrls: [https://evil.example/] } at enrollment: check it\n  gitBaseUrls: ["https://github.com/"]\n');
    expect(text).toContain('  # Value: nothing was given or suggested, so every job is refused until you fill it in\n  branches: []\n');
    expect(text).toContain('  # Value: given to `bitenvoy agent enroll`\n  instructions: ["deploy/bitenvoy.yml"]\n');
    const result = validateYamlFile<AgentConfigFile>(text, 'agent', 'agent.yml');
    expect(result.value).toEqual({ allow: { gitBaseUrls: ['https://github.com/'], branches: [], instructions: ['deploy/bitenvoy.yml'] }, keepReleases: 5, secretsFile: 'secrets.yml' });
  });
});
