/**
 * agent.yml's `runAs`, `limits` and `perRepository`, made ready at the agent's start: every user resolved, the
 * privileges to switch to them checked, every bound parsed and the way to enforce bounds found. Anything wrong stops
 * the agent there, with the fix, rather than failing its first deployment. Per step, {@link stepLaunch} then gives the
 * argv prefix and environment that start it as its user, under its bounds.
 *
 * @example
 * const { plan, warnings } = await prepareRunAs(file, dir);
 * const launch = await stepLaunch(plan, 'acme/shop', 'bitenvoy-step-job_1-0');
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { boundStep } from './bound-step.js';
import { checkRunAsPrivileges, findExecutable } from './check-privileges.js';
import { controllersFor, findLimitsMechanism, type LimitsMechanism, type LimitsProbe } from './limits-mechanism.js';
import { parseLimits, type StepBounds } from './parse-limits.js';
import { resolveRunAsUser, type Lookup, type RunAsUser } from './resolve-user.js';
import { namedRunAs, settingsForRepository, type RunAsConfig } from './settings-for-repository.js';

export interface RunAsPlan {
  config: RunAsConfig;
  /** Every `runAs` agent.yml names, resolved. */
  users: Map<string, RunAsUser>;
  /** Set when some repository's steps run as another user. */
  setpriv?: string;
  mechanism: LimitsMechanism;
}

/** What the start-up checks read of the system; tests give their own. */
export interface RunAsSystem {
  status: () => Promise<string>;
  uid: number | undefined;
  lookup?: Lookup;
  /** Where setpriv is (undefined: not installed). */
  findSetpriv: () => string | undefined;
  limitsProbe?: LimitsProbe;
}

const realSystem: RunAsSystem = { status: () => readFile('/proc/self/status', 'utf8'), uid: process.getuid?.(), findSetpriv: () => findExecutable('setpriv') };

/**
 * Undefined plan when agent.yml sets none of `runAs`, `limits`, `perRepository`. Throws BE_USAGE when a user is
 * unknown, the agent cannot switch users, or a bound is malformed; warns when bounds cannot be enforced here.
 */
export async function prepareRunAs(config: RunAsConfig, dir: string, system: RunAsSystem = realSystem): Promise<{ plan?: RunAsPlan; warnings: string[] }> {
  if (!config.runAs && !config.limits && !config.perRepository) return { warnings: [] };
  const warnings: string[] = [];
  const named = namedRunAs(config);
  const setpriv = named.length ? checkRunAsPrivileges(await system.status(), system.uid, system.findSetpriv()) : undefined;
  const users = new Map<string, RunAsUser>();
  for (const { runAs, where } of named) {
    const user = users.get(runAs) ?? resolveRunAsUser(runAs, where, system.lookup);
    users.set(runAs, user);
    const blocked = await firstBlockedAncestor(dir, user);
    if (blocked) warnings.push(`${where}: ${user.name} cannot reach ${dir} (${blocked} is not searchable by it): its steps cannot use absolute paths like $BITENVOY_RELEASE_DIR. Run \`chmod o+x ${blocked}\` (or move the agent directory)`);
  }
  const controllers = new Set<string>();
  const all = [{ limits: config.limits, where: 'limits' }, ...Object.entries(config.perRepository ?? {}).map(([key, value]) => ({ limits: value.limits, where: `perRepository.${key}.limits` }))];
  for (const { limits, where } of all) for (const c of controllersFor(parseLimits(limits, where) ?? {})) controllers.add(c);
  const mechanism: LimitsMechanism = controllers.size ? await findLimitsMechanism([...controllers], system.limitsProbe) : { kind: 'none', reason: 'no limits are set' };
  if (controllers.size && mechanism.kind === 'none') warnings.push(`limits are not enforced on this server: ${mechanism.reason}. They are best-effort: run the agent under systemd, or delegate its cgroup to it, to have them`);
  return { plan: { config, users, ...(setpriv ? { setpriv } : {}), mechanism }, warnings };
}

/** The nearest folder on the way to `dir` (or `dir` itself) that `user` may not search, if any. */
async function firstBlockedAncestor(dir: string, user: RunAsUser): Promise<string | undefined> {
  const chain: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain) {
    const info = await stat(d).catch(() => undefined);
    if (!info) return d;
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if (!(info.mode & bit)) return d;
  }
  return undefined;
}

export interface StepLaunch {
  /** The user the step runs as, when another than the agent. */
  user?: RunAsUser;
  bounds?: StepBounds;
  /** argv before `/bin/sh -c <command>`: the bounds' wrapper, then setpriv. */
  prefix: string[];
  /** HOME, USER and LOGNAME of the step's user. */
  env: Record<string, string>;
  /** A line for the job's log when the bounds are not enforced here. */
  notice?: string;
  release(): Promise<{ memoryKilled: boolean | undefined }>;
}

/**
 * How to start one step of `repository`'s job (`name` names its cgroup or scope).
 *
 * @example
 * const launch = await stepLaunch(plan, 'acme/shop', 'bitenvoy-step-job_1-0');
 * runStep({ command, …, env: { ...env, ...launch.env }, prefix: launch.prefix });
 */
export async function stepLaunch(plan: RunAsPlan, repository: string, name: string): Promise<StepLaunch> {
  const settings = settingsForRepository(plan.config, repository);
  const user = settings.runAs ? plan.users.get(settings.runAs) : undefined;
  const bounds = parseLimits(settings.limits, settings.from === 'agent.yml' ? 'limits' : `${settings.from}.limits`);
  const bound = await boundStep(plan.mechanism, bounds, name);
  const setpriv = user && plan.setpriv ? setprivPrefix(plan.setpriv, user) : [];
  return {
    ...(user ? { user } : {}),
    ...(bounds ? { bounds } : {}),
    prefix: [...bound.prefix, ...setpriv],
    env: user ? { HOME: user.home, USER: user.name, LOGNAME: user.name } : {},
    ...(bounds && plan.mechanism.kind === 'none' ? { notice: `limits (${describeBounds(bounds)}) are not enforced on this server: ${plan.mechanism.reason}\n` } : {}),
    release: bound.release,
  };
}

/**
 * `setpriv` argv that starts what follows as `user`, with the user's groups and no capability of any kind: a step
 * never inherits the agent's CAP_SETUID (nor, with NoNewPrivileges, gains one from a set-user-ID program).
 *
 * @example
 * setprivPrefix('/usr/bin/setpriv', { uid: 998, gid: 998 }); // ['/usr/bin/setpriv', '--reuid=998', '--regid=998', '--init-groups', …, '--']
 */
export function setprivPrefix(setpriv: string, user: { uid: number; gid: number }): string[] {
  return [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--'];
}

/** `memory 512M, cpu 50%`. */
export function describeBounds(bounds: StepBounds): string {
  return [bounds.memory ? `memory ${bounds.memory}` : '', bounds.cpu ? `cpu ${bounds.cpu}` : ''].filter(Boolean).join(', ');
}
