/**
 * Whether agent.yml asks for steps to run as other users (`runAs:` at the top level or under a repository), which the
 * service must then allow (the capabilities to switch users). Only the key is looked for: what it says is checked
 * where it is used, when the agent runs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * True when `<dir>/agent.yml` has a `runAs` key at its top level or one level down (`repositories.<name>.runAs`, or
 * in a list of repositories); false when it has none or cannot be read.
 *
 * @example
 * await agentYmlHasRunAs('/var/lib/bitenvoy-agent'); // true for `runAs: deploy`
 */
export async function agentYmlHasRunAs(dir: string): Promise<boolean> {
  return agentYmlHasKey(dir, 'runAs');
}

/**
 * True when `<dir>/agent.yml` bounds steps (`limits:` at the top level or under a repository): the agent then makes a
 * cgroup per step below its own, which the service manager must delegate to it.
 *
 * @example
 * await agentYmlHasLimits('/var/lib/bitenvoy-agent'); // true for `limits: { memory: 512M }`
 */
export async function agentYmlHasLimits(dir: string): Promise<boolean> {
  return agentYmlHasKey(dir, 'limits');
}

async function agentYmlHasKey(dir: string, key: string): Promise<boolean> {
  const text = await readFile(join(dir, 'agent.yml'), 'utf8').catch(() => '');
  let value: unknown;
  try {
    value = parse(text);
  } catch {
    return false;
  }
  return hasKey(value, key, 2);
}

/** `key` as a key of this object, or of the objects (and list items) under it, `depth` levels down. */
function hasKey(value: unknown, key: string, depth: number): boolean {
  if (Array.isArray(value)) return depth > 0 && value.some((item) => hasKey(item, key, depth - 1));
  if (!value || typeof value !== 'object') return false;
  if (Object.hasOwn(value, key)) return true;
  return depth > 0 && Object.values(value).some((child) => hasKey(child, key, depth - 1));
}
