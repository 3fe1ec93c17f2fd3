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
  const text = await readFile(join(dir, 'agent.yml'), 'utf8').catch(() => '');
  let value: unknown;
  try {
    value = parse(text);
  } catch {
    return false;
  }
  return hasRunAs(value, 2);
}

/** `runAs` as a key of this object, or of the objects (and list items) under it, `depth` levels down. */
function hasRunAs(value: unknown, depth: number): boolean {
  if (Array.isArray(value)) return depth > 0 && value.some((item) => hasRunAs(item, depth - 1));
  if (!value || typeof value !== 'object') return false;
  if (Object.hasOwn(value, 'runAs')) return true;
  return depth > 0 && Object.values(value).some((child) => hasRunAs(child, depth - 1));
}
