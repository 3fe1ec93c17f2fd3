/**
 * The `agent.yml` that `bitenvoy agent enroll` writes when the directory has none: it pins where code may come from
 * (`allow.gitBaseUrls`), the branches a commit must be on (`allow.branches`) and the instruction files the agent runs
 * (`allow.instructions`). Each value comes from the enroll flags when given, otherwise from the hub's suggestion in
 * the enrollment answer — trust on first use: the suggestion is checked like anything the hub sends, and the owner
 * reviews the printed file.
 *
 * @example
 * const checked = checkSuggestedAllow(res.suggestedAllow);
 * const pinned = pinAllowlist({ branches: ['main'] }, checked.value);
 * await writeFile(file, renderAgentYml(pinned, { hub, name }), { flag: 'wx', mode: 0o600 });
 */
import { MAX_SUGGESTED_BRANCHES, MAX_SUGGESTED_GIT_BASE_URLS, MAX_SUGGESTED_REPOSITORIES, type SuggestedAllow } from '../lib/protocol.js';
import { DEFAULT_INSTRUCTIONS } from './allowlist.js';
import { clipped, listed } from './listed.js';

/** `allow` lists given on the command line (`--allow-…`); each one given wins over the hub's suggestion. */
export interface AllowFlags {
  gitBaseUrls?: string[];
  branches?: string[];
  instructions?: string[];
  repositories?: string[];
  environments?: string[];
}

/** Where a pinned list came from, as the file's comments and the enroll output say. */
export type PinSource = 'flag' | 'hub' | 'default' | 'none';

/** The lists agent.yml gets, each (but the optional two, which only flags set) with where it came from. */
export interface PinnedAllowlist {
  gitBaseUrls: { value: string[]; from: PinSource };
  branches: { value: string[]; from: PinSource };
  instructions: { value: string[]; from: PinSource };
  repositories?: { value: string[]; from: PinSource };
  environments?: string[];
}

/** Repository patterns the agent takes from a hub: `owner/name` or `owner/*`, as allow.repositories takes them. */
const SUGGESTED_REPOSITORY = /^[A-Za-z0-9_.-]+\/([A-Za-z0-9_.-]+|\*)$/;

/** Git base URLs the agent takes from a hub: `https`, `http` or `ssh` with a host, no password, query, fragment or `%`. */
const SUGGESTED_BASE = /^(https?:\/\/|ssh:\/\/([A-Za-z0-9._-]+@)?)[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[^?#%@\s\\]*)?$/;
/** Branches the agent takes from a hub: exact names (no `*`), nothing under `refs/`. */
const SUGGESTED_BRANCH = /^(?!refs\/)[A-Za-z0-9_][A-Za-z0-9._/-]*$/;
const MAX_BASE_LENGTH = 512;
const MAX_BRANCH_LENGTH = 200;

/**
 * The parts of the hub's `suggestedAllow` the agent can take, and what it dropped (each entry that is not a plain
 * `https`/`http`/`ssh` base URL or an exact branch name; a whole list that is not a list or is longer than its bound).
 *
 * @example
 * checkSuggestedAllow({ gitBaseUrls: ['https://github.com/', 'file:///etc/'], branches: ['main'] });
 * // { value: { gitBaseUrls: ['https://github.com/'], branches: ['main'] }, dropped: ['git base URL "file:///etc/" …'] }
 */
export function checkSuggestedAllow(suggested: unknown): { value: Partial<SuggestedAllow>; dropped: string[] } {
  if (suggested === undefined) return { value: {}, dropped: [] };
  const dropped: string[] = [];
  if (typeof suggested !== 'object' || suggested === null || Array.isArray(suggested)) return { value: {}, dropped: ['the whole suggestion (not an object)'] };
  const { gitBaseUrls, branches, repositories } = suggested as Record<string, unknown>;
  const take = (list: unknown, what: string, max: number, maxLength: number, valid: RegExp): string[] | undefined => {
    if (list === undefined) return undefined;
    if (!Array.isArray(list) || list.length > max) {
      dropped.push(`the ${what} list (${Array.isArray(list) ? `${list.length} entries, more than ${max}` : 'not a list'})`);
      return undefined;
    }
    const kept: string[] = [];
    for (const item of list as unknown[]) {
      if (typeof item === 'string' && item.length <= maxLength && valid.test(item)) {
        if (!kept.includes(item)) kept.push(item);
      } else dropped.push(`${what} ${typeof item === 'string' ? JSON.stringify(clipped(item, 80)) : `(a ${item === null ? 'null' : typeof item})`}`);
    }
    return kept;
  };
  const bases = take(gitBaseUrls, 'git base URL', MAX_SUGGESTED_GIT_BASE_URLS, MAX_BASE_LENGTH, SUGGESTED_BASE);
  const names = take(branches, 'branch', MAX_SUGGESTED_BRANCHES, MAX_BRANCH_LENGTH, SUGGESTED_BRANCH);
  const repos = take(repositories, 'repository', MAX_SUGGESTED_REPOSITORIES, 201, SUGGESTED_REPOSITORY);
  return { value: { ...(bases ? { gitBaseUrls: bases } : {}), ...(names ? { branches: names } : {}), ...(repos?.length ? { repositories: repos } : {}) }, dropped };
}

/**
 * The lists to pin: a flag wins, then the hub's (checked) suggestion; without either, `gitBaseUrls` and `branches`
 * are empty (every job refused until the owner fills them in) and `instructions` is `[bitenvoy.yml]`.
 */
export function pinAllowlist(flags: AllowFlags, suggested: Partial<SuggestedAllow>): PinnedAllowlist {
  const pick = (flag: string[] | undefined, hub: string[] | undefined) =>
    flag ? { value: flag, from: 'flag' as const } : hub?.length ? { value: hub, from: 'hub' as const } : { value: [], from: 'none' as const };
  return {
    gitBaseUrls: pick(flags.gitBaseUrls, suggested.gitBaseUrls),
    branches: pick(flags.branches, suggested.branches),
    instructions: flags.instructions ? { value: flags.instructions, from: 'flag' } : { value: DEFAULT_INSTRUCTIONS, from: 'default' },
    ...(flags.repositories ? { repositories: { value: flags.repositories, from: 'flag' as const } } : suggested.repositories?.length ? { repositories: { value: suggested.repositories, from: 'hub' as const } } : {}),
    ...(flags.environments ? { environments: flags.environments } : {}),
  };
}

/** A list as YAML flow sequence; every item double-quoted as JSON is (valid YAML, whatever the characters). */
function flow(items: readonly string[]): string {
  return `[${items.map((item) => JSON.stringify(item)).join(', ')}]`;
}

function oneLine(text: string): string {
  return clipped(text.replace(/\p{Cc}/gu, '?'), 200);
}

function sourceNote(from: PinSource, hub: string): string {
  if (from === 'flag') return 'given to `bitenvoy agent enroll`';
  if (from === 'hub') return `suggested by the hub ${hub} at enrollment: check it`;
  if (from === 'default') return 'the default';
  return 'nothing was given or suggested, so every job is refused until you fill it in';
}

/**
 * The text of `agent.yml`, with comments saying what each key does and where each value came from.
 *
 * @example
 * renderAgentYml(pinAllowlist({}, { gitBaseUrls: ['https://github.com/'], branches: ['main'] }), { hub: 'https://hub.example', name: 'web-1' });
 */
export function renderAgentYml(pinned: PinnedAllowlist, facts: { hub: string; name: string; at?: Date }): string {
  const at = (facts.at ?? new Date()).toISOString();
  // Comments must stay comments: a line break in a name or URL would start a YAML line of its own.
  facts = { hub: oneLine(facts.hub), name: oneLine(facts.name) };
  const list = (key: string, values: string[] | undefined, example: string) => (values ? `  ${key}: ${flow(values)}\n` : `  # ${key}: ${example}\n`);
  return (
    `# agent.yml — this agent's own rules, which the hub cannot change. Written by \`bitenvoy agent enroll\` for\n` +
    `# ${facts.name} at ${at}; it is never overwritten. Review it, change it as you like, and restart the agent.\n` +
    `# Every key: templates/agent.yml; schema: config-schema/agent.schema.json\n` +
    `\n` +
    `# What this agent will ever run. Anything else is refused before anything of it is fetched, and the refusal (with\n` +
    `# the rule that refused it) is reported to the hub.\n` +
    `allow:\n` +
    `  # Where code may come from: a job's git URL must be <base><owner>/<name>(.git). Without it, a hub that has been\n` +
    `  # tampered with could point an allowed repository's name at a copy of its own.\n` +
    `  # Value: ${sourceNote(pinned.gitBaseUrls.from, facts.hub)}\n` +
    `  gitBaseUrls: ${flow(pinned.gitBaseUrls.value)}\n` +
    `  # Only commits on these branches (or older commits of them) run; the agent never fetches a commit by its SHA, so\n` +
    `  # a pull request's head (refs/pull/…) or an unmerged branch does not run. \`release/*\` matches release/2.1.\n` +
    `  # Deploying pull requests (\`/deploy\` on a PR) to this server needs their branches here.\n` +
    `  # Value: ${sourceNote(pinned.branches.from, facts.hub)}\n` +
    `  branches: ${flow(pinned.branches.value)}\n` +
    `  # The instruction file paths this agent runs: the hub names the path, so any other YAML file of a commit could\n` +
    `  # otherwise run as deploy steps.\n` +
    `  # Value: ${sourceNote(pinned.instructions.from, facts.hub)}\n` +
    `  instructions: ${flow(pinned.instructions.value)}\n` +
    `  # Repositories (owner/name or owner/*) this server deploys: with gitBaseUrls alone, a tampered hub could send any\n` +
    `  # repository of an allowed host (any public one on github.com). Left out, any the hub sends.\n` +
    (pinned.repositories ? `  # Value: ${sourceNote(pinned.repositories.from, facts.hub)}\n` : '') +
    list('repositories', pinned.repositories?.value, '[acme/shop, acme-tools/*]') +
    `  # Environments this server deploys; left out, any the hub sends.\n` +
    list('environments', pinned.environments, '[staging, production]') +
    `\n` +
    `# Release directories kept per application and environment (the current one is never deleted).\n` +
    `# keepReleases: 5\n` +
    `\n` +
    `# NAME: value per line, mode 0600. Relative to the agent directory.\n` +
    `# secretsFile: secrets.yml\n`
  );
}

/**
 * What `bitenvoy agent enroll` prints about the file: what it pinned, from where, and where to change it.
 *
 * @example
 * describePinned(pinned, '/var/lib/bitenvoy-agent/agent.yml', 'https://hub.example');
 */
export function describePinned(pinned: PinnedAllowlist, file: string, hub: string): string {
  const line = (key: string, entry: { value: string[]; from: PinSource }) => `  allow.${key}: ${entry.value.length ? listed(entry.value) : '(empty)'} — ${sourceNote(entry.from, hub)}\n`;
  const extra = [
    ...(pinned.repositories ? [line('repositories', pinned.repositories)] : []),
    ...(pinned.environments ? [`  allow.environments: ${listed(pinned.environments)} — given to \`bitenvoy agent enroll\`\n`] : []),
  ];
  return (
    `wrote ${file}, which pins:\n` +
    line('gitBaseUrls', pinned.gitBaseUrls) +
    line('branches', pinned.branches) +
    line('instructions', pinned.instructions) +
    extra.join('') +
    `Review it before you start the agent: the hub's suggestions are trusted on first use. Change it in ${file} and restart the ` +
    `agent (enrolling never overwrites it; into a directory without one, --allow-git-base-url, --allow-branches, ` +
    `--allow-instructions, --allow-repositories and --allow-environments pin your own values).\n`
  );
}
