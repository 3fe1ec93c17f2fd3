/**
 * Validates a whole config repo checkout: every file against its schema, then the references between files
 * (an environment's group and strategy must exist). Returns the config ready to use, or every problem found.
 *
 * @example
 * const { value, errors } = await validateConfigDir('/srv/bitenvoy-config');
 * if (errors.length) console.error(formatIssues(errors));
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseDuration } from '../lib/parse-duration.js';
import type { GroupsFile, RepositoryFile, StrategiesFile, Strategy } from './types.generated.js';
import { positionOf, validateYamlFile, type ConfigIssue, type ValidationResult } from './validate-yaml-file.js';

export type { ConfigIssue } from './validate-yaml-file.js';

/** The rollout strategies that exist without being defined. */
export const BUILT_IN_STRATEGIES: Record<string, Strategy> = {
  'all-at-once': { type: 'all-at-once', description: 'every server in one batch' },
  'one-at-a-time': { type: 'one-at-a-time', description: 'one server at a time, in name order' },
};

export interface ResolvedRepository extends RepositoryFile {
  /** `owner/name`, from the file's path. */
  name: string;
  /** The instruction file path, default applied. */
  instructions: string;
  /** The file it came from, relative to the checkout. */
  file: string;
}

export interface LoadedConfig {
  groups: GroupsFile['groups'];
  /** Includes the built-in strategies. */
  strategies: Record<string, Strategy>;
  /** Keyed by `owner/name`. */
  repositories: Record<string, ResolvedRepository>;
}

const REPO_FILE = /^repositories\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)\.ya?ml$/;

async function readOptional(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}

/**
 * Validates the config repo checkout in `dir` and resolves it (defaults applied, built-in strategies added).
 *
 * @example
 * const { value } = await validateConfigDir(checkout);
 * value?.repositories['acme/shop']?.environments.staging?.group; // 'web'
 */
export async function validateConfigDir(dir: string): Promise<ValidationResult<LoadedConfig>> {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const take = <T>(result: ValidationResult<T>): T | undefined => {
    errors.push(...result.errors);
    warnings.push(...result.warnings);
    return result.value;
  };
  // Names that files which broke their schema still define: references to them are checked in the same pass, so one
  // push shows every problem, not only the first kind.
  const namesIn = (result: ValidationResult<unknown>, key: string): string[] | undefined => {
    const section = isMapping(result.unchecked) ? result.unchecked[key] : undefined;
    return isMapping(section) ? Object.keys(section) : undefined;
  };

  const groupsText = await readOptional(join(dir, 'groups.yml'));
  let groups: GroupsFile | undefined;
  /** Undefined when groups.yml cannot say which groups exist (missing, or not YAML). */
  let groupNames: string[] | undefined;
  if (groupsText === undefined) {
    const misnamed = existsSync(join(dir, 'groups.yaml'));
    errors.push({
      file: 'groups.yml',
      path: '',
      message: 'file not found',
      hint: misnamed ? 'rename groups.yaml to groups.yml' : 'every config repo needs a groups.yml; start from templates/config-repo/groups.yml',
    });
  } else {
    const checked = validateYamlFile<GroupsFile>(groupsText, 'groups', 'groups.yml');
    groups = take(checked);
    groupNames = groups ? Object.keys(groups.groups) : namesIn(checked, 'groups');
  }

  const strategiesText = await readOptional(join(dir, 'strategies.yml'));
  if (strategiesText === undefined && existsSync(join(dir, 'strategies.yaml'))) {
    errors.push({ file: 'strategies.yaml', path: '', message: 'this file is not read', hint: 'rename it to strategies.yml' });
  }
  const strategiesChecked = strategiesText === undefined ? undefined : validateYamlFile<StrategiesFile>(strategiesText, 'strategies', 'strategies.yml');
  const strategiesFile = strategiesChecked ? take(strategiesChecked) : { strategies: {} };
  const strategyNames = strategiesFile ? Object.keys(strategiesFile.strategies) : strategiesChecked && namesIn(strategiesChecked, 'strategies');
  for (const name of Object.keys(strategiesFile?.strategies ?? {})) {
    if (name in BUILT_IN_STRATEGIES) {
      errors.push({
        file: 'strategies.yml',
        path: `strategies.${name}`,
        ...positionOf(strategiesText ?? '', ['strategies', name]),
        message: `\`${name}\` is a built-in strategy and cannot be redefined`,
        hint: 'give yours another name; the built-in one can be used without an entry here',
      });
    }
  }

  for (const [name, strategy] of Object.entries(strategiesFile?.strategies ?? {})) errors.push(...checkStrategy(name, strategy, strategiesText ?? ''));

  const repositories: Record<string, ResolvedRepository> = {};
  const repoTexts: Array<{ file: string; text: string; name: string }> = [];
  for (const file of await listRepositoryFiles(dir, errors)) {
    const match = REPO_FILE.exec(file);
    if (match) {
      repoTexts.push({ file, text: await readFile(join(dir, file), 'utf8'), name: `${match[1]}/${match[2]}` });
    } else if (!file.endsWith('/.gitkeep')) {
      errors.push({ file, path: '', message: 'not a repository file', hint: 'repositories/ holds only files named repositories/<owner>/<name>.yml, e.g. repositories/acme/shop.yml: move or remove this one' });
    }
  }
  const texts = new Map(repoTexts.map((r) => [r.file, r.text]));
  /** Every repository file's environments, checked or not, for the references between files. */
  const referencing: Array<{ repo: Pick<ResolvedRepository, 'name' | 'file'>; environments: Record<string, Record<string, unknown>> }> = [];
  for (const { file, text, name } of repoTexts) {
    const checked = validateYamlFile<RepositoryFile>(text, 'repository', file);
    const repo = take(checked);
    if (!repo) {
      const environments = isMapping(checked.unchecked) ? checked.unchecked.environments : undefined;
      if (isMapping(environments)) {
        referencing.push({ repo: { name, file }, environments: Object.fromEntries(Object.entries(environments).filter((e): e is [string, Record<string, unknown>] => isMapping(e[1]))) });
      }
      continue;
    }
    if (repositories[name]) {
      errors.push({ file, path: '', message: `${name} is already configured by ${repositories[name].file}`, hint: 'keep one file per repository' });
      continue;
    }
    repositories[name] = { ...repo, name, instructions: repo.instructions ?? 'bitenvoy.yml', file };
    referencing.push({ repo: repositories[name], environments: repo.environments as unknown as Record<string, Record<string, unknown>> });
  }

  const strategies = { ...BUILT_IN_STRATEGIES, ...(strategiesFile?.strategies ?? {}) };
  const knownStrategies = strategyNames === undefined ? undefined : [...Object.keys(BUILT_IN_STRATEGIES), ...strategyNames];
  for (const { repo, environments } of referencing) {
    const text = texts.get(repo.file) ?? '';
    for (const [envName, env] of Object.entries(environments)) {
      // Only what the schema would accept is followed: a wrongly typed value already has its own error.
      if (groupNames && typeof env.group === 'string' && !groupNames.includes(env.group)) errors.push(crossRef(repo, text, envName, 'group', env.group, groupNames, 'groups.yml'));
      const strategy = env.strategy ?? 'all-at-once';
      if (knownStrategies && typeof strategy === 'string' && !knownStrategies.includes(strategy)) errors.push(crossRef(repo, text, envName, 'strategy', strategy, knownStrategies, 'strategies.yml'));
      if (typeof env.after === 'string' && !(env.after in environments)) {
        errors.push({
          file: repo.file,
          path: `environments.${envName}.after`,
          ...positionOf(text, ['environments', envName, 'after']),
          message: `environment \`${envName}\` comes after \`${env.after}\`, which is not an environment of ${repo.name}`,
          hint: `its environments: ${Object.keys(environments).join(', ')}`,
        });
      } else if (env.after === envName) {
        errors.push({ file: repo.file, path: `environments.${envName}.after`, ...positionOf(text, ['environments', envName, 'after']), message: `environment \`${envName}\` cannot come after itself`, hint: 'name the environment a commit must pass first, e.g. `staging`' });
      }
    }
  }
  for (const repo of Object.values(repositories)) {
    for (const [envName, env] of Object.entries(repo.environments)) {
      if (env.lockTimeout !== undefined && !isDuration(env.lockTimeout)) {
        errors.push({ file: repo.file, path: `environments.${envName}.lockTimeout`, ...positionOf(texts.get(repo.file) ?? '', ['environments', envName, 'lockTimeout']), message: `environment \`${envName}\`: lockTimeout must be longer than zero`, hint: 'write e.g. `8h`' });
      }
      if (env.checksTimeout !== undefined && !isDuration(env.checksTimeout)) {
        errors.push({
          file: repo.file,
          path: `environments.${envName}.checksTimeout`,
          ...positionOf(texts.get(repo.file) ?? '', ['environments', envName, 'checksTimeout']),
          message: `environment \`${envName}\`: checksTimeout must be longer than zero`,
          hint: 'write e.g. `30m` or `2h`',
        });
      }
    }
  }
  if (errors.length || !groups) return { errors, warnings };
  return { value: { groups: groups.groups, strategies, repositories }, errors, warnings };
}

/** Every file under `repositories/`, relative to the checkout with `/` separators; none when the folder is absent. */
async function listRepositoryFiles(dir: string, errors: ConfigIssue[]): Promise<string[]> {
  try {
    const entries = await readdir(join(dir, 'repositories'), { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => !e.isDirectory())
      .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    errors.push({ file: 'repositories', path: '', message: `repositories cannot be read: ${(err as Error).message}`, hint: 'repositories must be a folder' });
    return [];
  }
}

/** What the schema alone cannot say about a strategy: keys that belong to another type, two failure rules, zero durations. */
function checkStrategy(name: string, strategy: Strategy, text: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const issue = (key: string, message: string, hint: string) =>
    issues.push({ file: 'strategies.yml', path: `strategies.${name}.${key}`, ...positionOf(text, ['strategies', name, key]), message, hint });
  if (strategy.canary && strategy.type !== 'canary') issue('canary', `\`canary\` applies only to \`type: canary\`, and \`${name}\` is \`${strategy.type}\``, 'remove it, or make the type `canary`');
  if (strategy.type === 'canary' && !strategy.canary) issue('type', `canary strategy \`${name}\` has no \`canary\``, 'add e.g. `canary: { size: 1, pause: 10m }`');
  if (strategy.stages && strategy.type !== 'ordered') issue('stages', `\`stages\` applies only to \`type: ordered\`, and \`${name}\` is \`${strategy.type}\``, 'remove it, or make the type `ordered`');
  if (strategy.type === 'ordered' && !strategy.stages) issue('type', `ordered strategy \`${name}\` has no \`stages\``, 'add e.g. `stages: [{ matchLabels: { region: eu } }]`');
  if (strategy.maxFailures !== undefined && strategy.minHealthy !== undefined) issue('minHealthy', `\`${name}\` sets both \`maxFailures\` and \`minHealthy\``, 'keep one: they say the same thing two ways');
  for (const key of ['pause', 'timeout'] as const) {
    const value = strategy[key];
    if (value !== undefined && value !== 'manual' && !isDuration(value)) issue(key, `\`${key}\` must be longer than zero`, 'write e.g. `2m`');
  }
  const canaryPause = strategy.canary?.pause;
  if (canaryPause !== undefined && canaryPause !== 'manual' && !isDuration(canaryPause)) issue('canary', '`canary.pause` must be longer than zero', 'write e.g. `10m` or `manual`');
  return issues;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isDuration(value: number | string): boolean {
  try {
    parseDuration(value);
    return true;
  } catch {
    return false;
  }
}

function crossRef(repo: Pick<ResolvedRepository, 'name' | 'file'>, text: string, env: string, key: string, value: string, known: string[], where: string): ConfigIssue {
  return {
    file: repo.file,
    path: `environments.${env}.${key}`,
    ...positionOf(text, ['environments', env, key]),
    message: `environment \`${env}\` uses the ${key} \`${value}\`, which ${where} does not define`,
    hint: known.length ? `defined: ${known.join(', ')}` : `define it in ${where}`,
  };
}

/** One line per issue, `file:line:col: message`, then an indented hint; for terminals and logs. */
export function formatIssues(issues: ConfigIssue[]): string {
  return issues
    .map((i) => {
      const loc = [i.file, i.line, i.line === undefined ? undefined : i.column].filter((x) => x !== undefined).join(':');
      return `${loc}: ${i.message}${i.hint ? `\n    hint: ${i.hint}` : ''}`;
    })
    .join('\n');
}
