/**
 * A `runAs` value (`USER` or `USER:GROUP`) resolved to ids through the system's name service (`getent`, so LDAP and
 * other NSS sources count too), once, at the agent's start.
 *
 * @example
 * resolveRunAsUser('deploy:www-data', 'runAs'); // { name: 'deploy', uid: 998, gid: 33, group: 'www-data', home: '/home/deploy' }
 */
import { execFileSync } from 'node:child_process';
import { BitEnvoyError } from '../../lib/errors.js';

export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  /** The group steps run with: the one named after `:`, else the user's own. */
  group: string;
  home: string;
}

/** `getent <database> <key>`'s line, or undefined when the name is unknown. */
export type Lookup = (database: 'passwd' | 'group', key: string) => string | undefined;

const getent: Lookup = (database, key) => {
  try {
    return execFileSync('getent', [database, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0];
  } catch {
    return undefined; // exit 2: no such entry
  }
};

export function resolveRunAsUser(runAs: string, where: string, lookup: Lookup = getent): RunAsUser {
  const [name, groupName] = runAs.split(':') as [string, string | undefined];
  const passwd = lookup('passwd', name)?.split(':');
  if (!passwd || passwd.length < 7) {
    throw new BitEnvoyError(
      'BE_USAGE',
      `${where}: the user \`${name}\` does not exist on this server, so the agent does not start. Create it (e.g. \`useradd --system --user-group --create-home --home-dir /var/lib/${name} --shell /usr/sbin/nologin ${name}\`) or name an existing user in agent.yml`,
    );
  }
  const uid = Number(passwd[2]);
  if (uid === 0) {
    throw new BitEnvoyError('BE_USAGE', `${where}: \`${name}\` is root (uid 0): running steps as root fences nothing off. Name an unprivileged user, or leave runAs out`);
  }
  let gid = Number(passwd[3]);
  let group = lookup('group', String(gid))?.split(':')[0] ?? String(gid);
  if (groupName) {
    const entry = lookup('group', groupName)?.split(':');
    if (!entry || entry.length < 3) {
      throw new BitEnvoyError('BE_USAGE', `${where}: the group \`${groupName}\` does not exist on this server, so the agent does not start. Create it (\`groupadd --system ${groupName}\`) or write \`runAs: ${name}\` for the user's own group`);
    }
    gid = Number(entry[2]);
    group = groupName;
  }
  return { name, uid, gid, group, home: passwd[5] || '/' };
}
