/** agent.yml's runAs, limits and perRepository: parsing, the most specific match, and the start-up refusals. */
import { describe, expect, it } from 'vitest';
import { hasSetuidCapabilities, checkRunAsPrivileges } from '../../../agent/run-as/check-privileges.js';
import { parseCpu, parseLimits, parseMemory } from '../../../agent/run-as/parse-limits.js';
import { prepareRunAs, setprivPrefix, stepLaunch } from '../../../agent/run-as/prepare-run-as.js';
import { resolveRunAsUser, type Lookup } from '../../../agent/run-as/resolve-user.js';
import { settingsForRepository } from '../../../agent/run-as/settings-for-repository.js';
import { validateYamlFile } from '../../../config-schema/validate-yaml-file.js';
import { formatIssues } from '../../../config-schema/validate-config-dir.js';

const passwd: Record<string, string> = {
  shop: 'shop:x:998:997:Shop:/var/lib/shop:/usr/sbin/nologin',
  root: 'root:x:0:0:root:/root:/bin/bash',
};
const groups: Record<string, string> = { 'www-data': 'www-data:x:33:', '997': 'shop:x:997:' };
const lookup: Lookup = (database, key) => (database === 'passwd' ? passwd[key] : groups[key]);

describe('limits', () => {
  it.each([
    ['512M', 512 * 1024 ** 2],
    ['2G', 2 * 1024 ** 3],
    ['8388608', 8388608],
  ])('memory %s is %d bytes', (text, bytes) => expect(parseMemory(text, 'limits.memory')).toBe(bytes));
  it.each([
    ['50%', 50],
    ['1.5', 150],
    ['2 cores', 200],
    ['1 core', 100],
  ])('cpu %s is %d%% of a core', (text, percent) => expect(parseCpu(text, 'limits.cpu')).toBe(percent));
  it('refuses a memory bound too small to start a shell, and a zero CPU share, saying what to write', () => {
    expect(() => parseMemory('512', 'limits.memory')).toThrowErrorMatchingInlineSnapshot(`[BitEnvoyError: limits.memory: expected a size of at least 4M like \`512M\` or \`2G\`, got \`512\`]`);
    expect(() => parseCpu('0%', 'perRepository.acme/shop.limits.cpu')).toThrowErrorMatchingInlineSnapshot(`[BitEnvoyError: perRepository.acme/shop.limits.cpu: expected a CPU share above zero like \`50%\` or \`1.5 cores\`, got \`0%\`]`);
  });
  it('bounds nothing when neither is set', () => expect(parseLimits({})).toBeUndefined());
});

describe('the settings of a repository', () => {
  const config = {
    runAs: 'deploy',
    limits: { memory: '512M', cpu: '50%' },
    perRepository: { 'acme/*': { runAs: 'acme' }, 'Acme/Shop': { runAs: 'shop', limits: { memory: '1G' } } },
  };
  it('takes the most specific key: owner/name over owner/*, over the agent-wide settings; limits key by key', () => {
    expect(settingsForRepository(config, 'acme/shop')).toEqual({ runAs: 'shop', limits: { memory: '1G', cpu: '50%' }, from: 'perRepository.Acme/Shop' });
    expect(settingsForRepository(config, 'acme/blog')).toEqual({ runAs: 'acme', limits: { memory: '512M', cpu: '50%' }, from: 'perRepository.acme/*' });
    expect(settingsForRepository(config, 'tools/ci')).toEqual({ runAs: 'deploy', limits: { memory: '512M', cpu: '50%' }, from: 'agent.yml' });
    expect(settingsForRepository({}, 'tools/ci')).toEqual({ from: 'agent.yml' });
  });
});

describe('resolving the user', () => {
  it('finds ids, home and group; USER:GROUP takes that group', () => {
    expect(resolveRunAsUser('shop', 'runAs', lookup)).toEqual({ name: 'shop', uid: 998, gid: 997, group: 'shop', home: '/var/lib/shop' });
    expect(resolveRunAsUser('shop:www-data', 'runAs', lookup)).toMatchObject({ uid: 998, gid: 33, group: 'www-data' });
  });
  it('refuses an unknown user or group, and root, saying how to fix it', () => {
    expect(() => resolveRunAsUser('ghost', 'perRepository.acme/*.runAs', lookup)).toThrowErrorMatchingInlineSnapshot(`[BitEnvoyError: perRepository.acme/*.runAs: the user \`ghost\` does not exist on this server, so the agent does not start. Create it (e.g. \`useradd --system --user-group --create-home --home-dir /var/lib/ghost --shell /usr/sbin/nologin ghost\`) or name an existing user in agent.yml]`);
    expect(() => resolveRunAsUser('shop:nogroup-here', 'runAs', lookup)).toThrowErrorMatchingInlineSnapshot(`[BitEnvoyError: runAs: the group \`nogroup-here\` does not exist on this server, so the agent does not start. Create it (\`groupadd --system nogroup-here\`) or write \`runAs: shop\` for the user's own group]`);
    expect(() => resolveRunAsUser('root', 'runAs', lookup)).toThrow(/is root \(uid 0\): running steps as root fences nothing off/);
  });
  it('resolves through the real name service (getent)', () => {
    expect(resolveRunAsUser('nobody', 'runAs')).toMatchObject({ name: 'nobody', uid: 65534 });
    expect(() => resolveRunAsUser('no-such-user-bitenvoy', 'runAs')).toThrow(/the user `no-such-user-bitenvoy` does not exist/);
  });
});

describe('the privileges to switch users', () => {
  const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`;
  it('reads CAP_SETUID and CAP_SETGID from CapEff', () => {
    expect(hasSetuidCapabilities(status('00000000000000c0'))).toBe(true);
    expect(hasSetuidCapabilities(status('00000000000000eb'))).toBe(true);
    expect(hasSetuidCapabilities(status('0000000000000080'))).toBe(false); // CAP_SETUID alone
    expect(hasSetuidCapabilities(status('0000000000000000'))).toBe(false);
    expect(hasSetuidCapabilities('Name:\tnode\n')).toBe(false);
  });
  it('accepts root, or an unprivileged agent with both capabilities; refuses anything else or a missing setpriv', () => {
    expect(checkRunAsPrivileges(status('0000000000000000'), 0, '/usr/bin/setpriv')).toBe('/usr/bin/setpriv');
    expect(checkRunAsPrivileges(status('00000000000000c0'), 999, '/usr/bin/setpriv')).toBe('/usr/bin/setpriv');
    expect(() => checkRunAsPrivileges(status('0000000000000000'), 999, '/usr/bin/setpriv')).toThrow(/runs as uid 999 without CAP_SETUID and CAP_SETGID. Run it as root, or give its service AmbientCapabilities=/);
    expect(() => checkRunAsPrivileges(status('00000000000000c0'), 999, undefined)).toThrow(/runAs needs `setpriv` \(util-linux\).*install util-linux/);
  });
  it('prepareRunAs stops the start for an unprivileged agent, before looking up anyone', async () => {
    const system = { status: async () => status('0000000000000000'), uid: 1000, lookup, findSetpriv: () => '/usr/bin/setpriv' };
    await expect(prepareRunAs({ runAs: 'ghost' }, '/', system)).rejects.toThrow(/without CAP_SETUID and CAP_SETGID/);
  });
  it('starts a step through setpriv with the user\'s groups and every capability set cleared', async () => {
    const system = { status: async () => status('00000000000000c0'), uid: 1000, lookup, findSetpriv: () => '/usr/bin/setpriv' };
    const { plan, warnings } = await prepareRunAs({ runAs: 'shop' }, '/', system);
    expect(warnings).toEqual([]);
    const launch = await stepLaunch(plan!, 'acme/shop', 'step');
    expect(launch.prefix).toEqual(setprivPrefix('/usr/bin/setpriv', { uid: 998, gid: 997 }));
    expect(launch.prefix).toEqual(['/usr/bin/setpriv', '--reuid=998', '--regid=997', '--init-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--']);
    expect(launch.env).toEqual({ HOME: '/var/lib/shop', USER: 'shop', LOGNAME: 'shop' });
  });
});

describe('agent.yml validation', () => {
  it('says what a runAs, a limit or a perRepository key should look like', () => {
    const text = 'runAs: "Shop Deploy"\nlimits:\n  memory: lots\n  cpu: half\nperRepository:\n  acme: { runAs: shop }\n';
    const result = validateYamlFile(text, 'agent', 'agent.yml');
    expect(formatIssues(result.errors)).toMatchInlineSnapshot(`
      "agent.yml:1:8: \`runAs\`: expected a user name like \`deploy\`, or \`USER:GROUP\` like \`deploy:www-data\` (lowercase letters, digits, \`_\`, \`.\` and \`-\`), got \`Shop Deploy\`
          hint: Run every step (and the \`validate\` command) as this user instead of the agent's own: \`USER\` or \`USER:GROUP\`, e.g. \`deploy\` or \`deploy:www-data\` (without a group, the user's own; supplementary groups are always the user's). The agent keeps its own files from that user: its directory is 0711 (traversable, not listable); \`agent.json\`, \`agent.yml\`, the secrets file and journal files 0600; the journal, git mirrors and artifact cache 0700; an application's \`apps/<owner>/<name>/<environment>\` is the agent's with the user's group, 0750, and its release directories belong to the user. Secrets reach a step only through its environment; HOME, USER and LOGNAME are the user's. Needs an agent running as root, or with CAP_SETUID and CAP_SETGID (the systemd unit grants them when runAs is set), and \`setpriv\` (util-linux), through which every step starts with no capabilities at all: otherwise the agent refuses to start, as it does for a user that does not exist. Not \`root\`. Absent: steps run as the agent itself.
      agent.yml:3:11: \`limits.memory\`: expected a size like \`512M\` or \`2G\` (\`K\`, \`M\`, \`G\`, \`T\` are powers of 1024), or a byte count, got \`lots\`
          hint: Most memory a step's processes may use together: a byte count or one with \`K\`, \`M\`, \`G\` or \`T\` (powers of 1024), e.g. \`512M\`. A step that needs more is killed by the kernel, and the job's log says it hit its memory bound.
      agent.yml:4:8: \`limits.cpu\`: expected a CPU share like \`50%\` (of one core) or \`1.5\` / \`2 cores\`, got \`half\`
          hint: Most CPU time a step's processes may use together: a percentage of one core (\`50%\`, \`250%\`) or a number of cores (\`1.5\`, \`2 cores\`).
      agent.yml:6:3: \`perRepository\`: expected \`owner/name\` or \`owner/*\`, got \`acme\`"
    `);
  });
});
