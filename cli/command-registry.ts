/**
 * Every `bitenvoy` command in one place: its synopsis, options (with the environment variables and defaults that
 * stand in for them), arguments and examples. `--help`, `bitenvoy help <command>`, the usage lines of errors, "did you
 * mean" and the option parser (`parseCommand`) are all made from this table, so what help says is what is parsed.
 *
 * Plain data (and the synopsis made from it): loading it costs next to nothing, so an agent on a small server pays
 * for no command but the one it runs. Help pages are rendered elsewhere (`render-help.ts`), loaded only to be shown.
 *
 * @example
 * // one more option for `bitenvoy agent enroll` is one more line in its `options`:
 * 'allow-branches': { type: 'string', value: 'LIST', description: 'branches this agent may deploy, comma-separated' },
 */

/** One `--option` of a command. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** A one-letter alias: `r` for `-r`. */
  readonly short?: string;
  /** The value's placeholder in help: `URL`, `DIR`. */
  readonly value?: string;
  readonly description: string;
  /** Shown without brackets in the synopsis (the command checks it, after its environment variables). */
  readonly required?: boolean;
  /** Environment variables read, in this order, when the option is not given. */
  readonly env?: readonly string[];
  /** What applies when neither the option nor its variables are set (for help; the command applies it). */
  readonly default?: string;
}

/** A positional argument (`DEPLOYMENT_ID`, `DIR`). */
export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  readonly optional?: boolean;
}

/** An environment variable a command reads beyond those standing in for its options. */
export interface EnvironmentSpec {
  readonly name: string;
  readonly description: string;
  readonly default?: string;
}

export interface CommandSpec {
  /** One line, lower case, no full stop: what the command does. */
  readonly summary: string;
  /** A few more sentences for `--help`. */
  readonly details?: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly environment?: readonly EnvironmentSpec[];
  /** Loaded only when help is shown (e.g. the hub's settings table, which lives with the hub). */
  readonly moreEnvironment?: () => Promise<readonly EnvironmentSpec[]>;
  readonly examples: readonly string[];
}

const hub = {
  type: 'string',
  value: 'URL',
  description: "the hub's address",
  env: ['BITENVOY_HUB_URL', 'BITENVOY_PUBLIC_URL'],
  default: 'http://localhost:$PORT',
} as const satisfies OptionSpec;

const adminToken = {
  type: 'string',
  value: 'TOKEN',
  description: "the hub's admin token",
  env: ['BITENVOY_ADMIN_TOKEN'],
  default: 'the file $BITENVOY_DATA_DIR/admin-token',
} as const satisfies OptionSpec;

const logging = [
  { name: 'LOG_LEVEL', description: 'trace, debug, info, warn or error', default: 'info' },
  {
    name: 'BITENVOY_LOG_FORMAT',
    description: '`pretty` (readable lines) or `json` (one JSON object a line); LOG_FORMAT is read too',
    default: 'pretty on a terminal, json otherwise',
  },
] as const satisfies readonly EnvironmentSpec[];

const repository = { type: 'string', short: 'r', value: 'OWNER/NAME', description: 'the application repository', required: true } as const satisfies OptionSpec;
const environment = { type: 'string', short: 'e', value: 'ENV', description: 'the environment, as the config repo names it', required: true } as const satisfies OptionSpec;
const by = { type: 'string', value: 'NAME', description: 'who asks, for the lock and the audit log', env: ['USER'], default: 'cli' } as const satisfies OptionSpec;

export const COMMANDS = {
  hub: {
    summary: 'start the hub',
    details:
      'Runs until SIGTERM or SIGINT. Every setting comes from the environment (below); without APP_ID, a private key ' +
      'and WEBHOOK_SECRET it runs in local mode. Its start-up log says where the admin token is.',
    options: {},
    environment: logging,
    moreEnvironment: async () => {
      const { HUB_VARIABLES } = await import('../app/hub-settings.js');
      const { CLOUD_VARIABLES } = await import('../app/cloud/cloud-settings.js');
      return [...HUB_VARIABLES, ...CLOUD_VARIABLES]
        .filter(([name]) => name !== 'LOG_LEVEL')
        .map(([name, description, fallback]) => ({ name, description, ...(fallback === '–' ? {} : { default: fallback.replace(/^\((.*)\)$/, '$1') }) }));
    },
    examples: ['BITENVOY_CONFIG_REPO=https://git.example.com/acme/.bitenvoy.git BITENVOY_DATA_DIR=/var/lib/bitenvoy bitenvoy hub'],
  },
  'hub token create': {
    summary: 'mint a one-time agent enrollment token',
    details:
      'Asks the running hub for the token (with the admin token). With --data-dir it writes straight into the hub ' +
      'store in DIR instead, which must exist already; when no hub answers it does the same with $BITENVOY_DATA_DIR. ' +
      'It never creates a store. The token is printed alone on stdout; how to use it goes to stderr.',
    options: {
      ttl: { type: 'string', value: 'DURATION', description: 'how long the token stays valid, from 1m to 720h', default: '1h' },
      hub,
      token: adminToken,
      'data-dir': { type: 'string', value: 'DIR', description: "write into the hub store in DIR (DIR/hub.sqlite must exist) instead of asking the hub" },
    },
    environment: [
      { name: 'BITENVOY_DATA_DIR', description: "the hub's data folder: its admin-token file, and its store when no hub answers", default: './.bitenvoy-data' },
      { name: 'BITENVOY_DATABASE_URL', description: "a hub on PostgreSQL: when no hub answers, the token is written into that store (BITENVOY_DATABASE_PASSWORD_FILE and BITENVOY_DATABASE_CA_FILE as for the hub)" },
    ],
    examples: ['bitenvoy hub token create --ttl 2h', 'TOKEN=$(bitenvoy hub token create --hub https://bitenvoy.example.com --token "$ADMIN_TOKEN")'],
  },
  'hub user create': {
    summary: 'make a named operator for the status pages and print a one-time sign-in link',
    details:
      "In local mode the admin token is one shared identity; an operator's actions on the status pages are audited " +
      'under their name. The link is single use and valid 24 hours (the hub keeps only its sha256); for an existing ' +
      'name a new link is made. The link is printed alone on stdout.',
    positionals: [{ name: 'NAME', description: 'the operator, as the audit log will name them, e.g. alice' }],
    options: { hub, token: adminToken },
    examples: ['bitenvoy hub user create alice'],
  },
  'hub user list': {
    summary: 'list the named operators',
    options: { hub, token: adminToken, json: { type: 'boolean', description: 'print JSON' } },
    examples: ['bitenvoy hub user list'],
  },
  'hub user remove': {
    summary: "remove a named operator: their sessions end at once, their links stop working",
    positionals: [{ name: 'NAME', description: 'the operator' }],
    options: { hub, token: adminToken },
    examples: ['bitenvoy hub user remove alice'],
  },
  'agent enroll': {
    summary: 'enroll this server with the hub, once; keeps its credential in DIR',
    options: {
      hub: { type: 'string', value: 'URL', description: "the hub's address, as this server reaches it", required: true, env: ['BITENVOY_HUB_URL'] },
      token: { type: 'string', value: 'TOKEN', description: 'a one-time enrollment token from `bitenvoy hub token create`', required: true, env: ['BITENVOY_ENROLL_TOKEN'] },
      dir: { type: 'string', value: 'DIR', description: "the agent's directory (credential, releases, agent.yml, secrets.yml)", required: true, env: ['BITENVOY_AGENT_DIR'] },
      name: { type: 'string', value: 'NAME', description: "the agent's name, unique on the hub", default: "this machine's host name" },
      labels: { type: 'string', value: 'k=v,…', description: 'labels groups select on, e.g. role=web,region=eu (no `cloud.` keys)' },
      force: { type: 'boolean', description: 'enroll again over an existing credential in DIR (an existing agent.yml is kept)' },
      'allow-git-base-url': { type: 'string', value: 'URL,…', description: 'pin where code may come from in the agent.yml it writes (repeatable)', default: "the hub's suggestion: its GitHub host or the configured git hosts" },
      'allow-branches': { type: 'string', value: 'B,…', description: 'pin the branches a commit must be on, e.g. main,release/* (repeatable)', default: "the hub's suggestion: the environments' branches" },
      'allow-instructions': { type: 'string', value: 'PATH,…', description: 'pin the instruction files the agent runs (repeatable)', default: 'bitenvoy.yml' },
      'allow-repositories': { type: 'string', value: 'R,…', description: 'pin the repositories it deploys, owner/name or owner/* (repeatable)', default: 'all' },
      'allow-environments': { type: 'string', value: 'E,…', description: 'pin the environments it deploys (repeatable)', default: 'all' },
    },
    details:
      'Writes DIR/agent.yml when there is none: what the agent will ever run (git hosts, branches, instruction files), from the --allow-… flags or else the hub\'s suggestion. Review it; the hub can never change it.',
    examples: [
      'bitenvoy agent enroll --hub https://bitenvoy.example.com --token bte_… --dir /var/lib/bitenvoy-agent --name web-1 --labels role=web',
      'bitenvoy agent enroll --hub https://bitenvoy.example.com --token bte_… --dir /var/lib/bitenvoy-agent --allow-git-base-url https://github.com/ --allow-branches main,release/*',
    ],
  },
  'agent run': {
    summary: 'run the agent: long-poll the hub, fetch, run the steps, report',
    details: 'Runs until SIGTERM or SIGINT; a running step is stopped and reported first.',
    options: {
      dir: { type: 'string', value: 'DIR', description: 'the directory given to `agent enroll`', required: true, env: ['BITENVOY_AGENT_DIR'] },
    },
    environment: logging,
    examples: ['bitenvoy agent run --dir /var/lib/bitenvoy-agent'],
  },
  'agent install': {
    summary: 'set the agent up as a service: a hardened systemd unit, a launchd daemon or a Windows scheduled task',
    details:
      'As root (Administrator on Windows). Checks that DIR is enrolled and its agent.yml loads, creates the user when ' +
      'missing (Linux: useradd --system), gives it DIR, writes the unit and enables and starts it. The unit starts the ' +
      'program running this command (the agent executable, or node with this bitenvoy). Where systemd is not running ' +
      '(a container) the unit is written and how to start it is said. Templates: templates/systemd, templates/launchd, ' +
      'templates/windows.',
    options: {
      dir: { type: 'string', value: 'DIR', description: 'the directory given to `agent enroll`', required: true, env: ['BITENVOY_AGENT_DIR'] },
      user: { type: 'string', value: 'USER', description: 'the user the agent runs as (created when missing; not on Windows: SYSTEM)', default: 'bitenvoy-agent' },
      writable: { type: 'string', value: 'PATH', description: 'a deploy target the agent may write besides DIR; the rest of the system is read-only to it (repeatable)' },
      'dry-run': { type: 'boolean', description: 'print the files and commands instead of changing anything' },
    },
    environment: [
      { name: 'BITENVOY_SYSTEMD_DIR', description: 'where the systemd unit is written', default: '/etc/systemd/system' },
      { name: 'BITENVOY_LAUNCHD_DIR', description: 'where the launchd property list is written', default: '/Library/LaunchDaemons' },
    ],
    examples: ['sudo bitenvoy agent install --dir /var/lib/bitenvoy-agent --writable /srv/www', 'bitenvoy agent install --dir /var/lib/bitenvoy-agent --dry-run'],
  },
  'agent uninstall': {
    summary: 'stop, disable and remove the service `agent install` made; the directory and the user stay',
    options: {
      dir: { type: 'string', value: 'DIR', description: "the agent's directory (needed on Windows only, where the task's XML is kept)", env: ['BITENVOY_AGENT_DIR'] },
      'dry-run': { type: 'boolean', description: 'print the commands instead of changing anything' },
    },
    environment: [
      { name: 'BITENVOY_SYSTEMD_DIR', description: 'where the systemd unit is', default: '/etc/systemd/system' },
      { name: 'BITENVOY_LAUNCHD_DIR', description: 'where the launchd property list is', default: '/Library/LaunchDaemons' },
    ],
    examples: ['sudo bitenvoy agent uninstall'],
  },
  'agent upgrade': {
    summary: 'replace the agent executable with a release, checked against its SHA256SUMS, and restart the service',
    details:
      "Downloads SHA256SUMS and this platform's executable (bitenvoy-agent-linux-x64, …) from the release, checks the " +
      'SHA-256, runs `<new> --version`, swaps it in atomically and restarts the service. When the new agent has not ' +
      'started (its start marker DIR/agent.started names the new version) within --timeout, the previous executable ' +
      'is put back and started again. Only for the agent executable: with npm, run `npm install -g bitenvoy@VERSION`.',
    options: {
      from: { type: 'string', value: 'URL|DIR', description: 'the release: an https:// or file:// URL or a local folder holding SHA256SUMS and the executables', required: true },
      dir: { type: 'string', value: 'DIR', description: 'the directory given to `agent enroll` (for the start marker)', required: true, env: ['BITENVOY_AGENT_DIR'] },
      timeout: { type: 'string', value: 'DURATION', description: 'how long the new agent has to start before it is rolled back', default: '60s' },
    },
    examples: ['sudo bitenvoy-agent agent upgrade --from https://github.com/bitenvoy/bitenvoy/releases/download/v0.2.0 --dir /var/lib/bitenvoy-agent'],
  },
  validate: {
    summary: 'check a config repo checkout, or an instruction file',
    details: 'Prints every problem with file, line and a hint; exit 1 when there is an error.',
    positionals: [{ name: 'DIR | FILE', description: 'a config repo checkout (with groups.yml), a bitenvoy.yml, or a folder holding one', optional: true }],
    options: {},
    examples: ['bitenvoy validate .', 'bitenvoy validate path/to/app/bitenvoy.yml'],
  },
  deploy: {
    summary: "deploy a ref through the hub's API and follow it",
    details: 'Prints the status page, then each change until the deployment ends; exit 0 only on success.',
    options: {
      repository,
      ref: { type: 'string', value: 'REF', description: 'a branch, tag or commit SHA', required: true },
      environment,
      hub,
      token: adminToken,
      'no-wait': { type: 'boolean', description: 'return once the deployment is created' },
    },
    examples: ['bitenvoy deploy --repository acme/shop --ref main --environment staging'],
  },
  plan: {
    summary: "show a rollout's batches in order; creates nothing",
    details: "For a config repo checkout and the hub's agents (or a JSON file of agents).",
    options: {
      repository,
      environment,
      config: { type: 'string', value: 'DIR', description: 'the config repo checkout', default: '.' },
      agents: { type: 'string', value: 'FILE.json', description: 'agents to plan for instead of the hub\'s: [{ "name": …, "labels": {…} }] or `bitenvoy agents --json` output' },
      hub,
      token: adminToken,
    },
    examples: ['bitenvoy plan --config . --repository acme/shop --environment production --agents agents.json'],
  },
  agents: {
    summary: 'list enrolled agents, their labels, verified cloud facts and whether they are online',
    options: { hub, token: adminToken, json: { type: 'boolean', description: 'print JSON' } },
    examples: ['bitenvoy agents --json > agents.json'],
  },
  'agents unbind': {
    summary: "forget an agent's cloud binding (after checking a quarantined server)",
    positionals: [{ name: 'NAME', description: "the agent's name" }],
    options: { hub, token: adminToken },
    examples: ['bitenvoy agents unbind web-2'],
  },
  continue: {
    summary: 'release a rollout waiting at a pause between batches (a manual gate or a timed pause)',
    details: 'Name the deployment, or the environment whose paused rollout to continue (as `/continue production` does).',
    positionals: [{ name: 'DEPLOYMENT_ID', description: 'the deployment, e.g. dep_1a2b3c4d5e6f', optional: true }],
    options: {
      repository: { ...repository, required: false, description: 'with --environment instead of DEPLOYMENT_ID: its paused rollout' },
      environment: { ...environment, required: false, description: 'the environment whose paused rollout to continue' },
      by: { type: 'string', value: 'NAME', description: 'who continues, for the audit log', env: ['USER'], default: 'cli' },
      hub,
      token: adminToken,
    },
    examples: ['bitenvoy continue dep_1a2b3c4d5e6f', 'bitenvoy continue -r acme/shop -e production'],
  },
  cancel: {
    summary: 'stop a rollout: nothing new starts, running steps get SIGTERM, then SIGKILL',
    details: 'Name the deployment, or the environment whose running rollout to stop.',
    positionals: [{ name: 'DEPLOYMENT_ID', description: 'the deployment, e.g. dep_1a2b3c4d5e6f', optional: true }],
    options: {
      repository: { ...repository, required: false, description: 'with --environment instead of DEPLOYMENT_ID: its running rollout' },
      environment: { ...environment, required: false, description: 'the environment whose running rollout to stop' },
      by: { type: 'string', value: 'NAME', description: 'who cancels, for the audit log', env: ['USER'], default: 'cli' },
      hub,
      token: adminToken,
    },
    examples: ['bitenvoy cancel dep_1a2b3c4d5e6f --by alice', 'bitenvoy cancel -r acme/shop -e production'],
  },
  status: {
    summary: 'what each repository × environment runs now: live commit, rollout in progress or paused, lock',
    details:
      'For every repository and environment of the config in force (or the ones named): the commit live there (when, ' +
      'by whom, which deployment), the newest deployment when it is another one (a failure, say), a rollout running, ' +
      'paused between batches or waiting, and a lock (who, why, until when).',
    options: {
      repository: { ...repository, required: false, description: 'only this repository' },
      environment: { ...environment, required: false, description: 'only this environment' },
      json: { type: 'boolean', description: 'print JSON' },
      hub,
      token: adminToken,
    },
    examples: ['bitenvoy status', 'bitenvoy status -r acme/shop -e production --json'],
  },
  logs: {
    summary: "print each server's log of a deployment; --follow until it ends",
    details:
      'Prints the log the hub keeps of each server (its newest 2 MiB), each line after the server name, or one server ' +
      "with --server. With --follow it prints what comes next until the deployment's final state, then that state; " +
      'exit 0 only on success.',
    positionals: [{ name: 'DEPLOYMENT_ID', description: 'the deployment, e.g. dep_1a2b3c4d5e6f' }],
    options: {
      server: { type: 'string', short: 's', value: 'NAME', description: "only this server: its agent's name or its job id" },
      follow: { type: 'boolean', short: 'f', description: 'keep printing until the deployment ends' },
      hub,
      token: adminToken,
    },
    examples: ['bitenvoy logs dep_1a2b3c4d5e6f --server web-1', 'bitenvoy logs dep_1a2b3c4d5e6f --follow'],
  },
  rollback: {
    summary: 'deploy again the commit an environment ran before (or the one named) and follow it',
    details:
      'Goes back to the newest successful deployment of another commit than the live one, as `/rollback` on a pull ' +
      'request does, or to the successful deployment --to names. The same guard rails hold it (a lock refuses it). ' +
      'In GitHub mode it is a GitHub Deployment. Exit 0 only on success.',
    options: {
      repository,
      environment,
      to: { type: 'string', value: 'DEPLOYMENT_ID|SHA', description: 'a successful deployment of the environment, or its commit (7 to 40 hex digits)' },
      hub,
      token: adminToken,
      'no-wait': { type: 'boolean', description: 'return once the deployment is created' },
    },
    examples: ['bitenvoy rollback -r acme/shop -e production', 'bitenvoy rollback -r acme/shop -e production --to 4f2c1a9'],
  },
  lock: {
    summary: 'stop every deployment of an environment until it is unlocked',
    details:
      'Deploys from the API, automatic deploys and rollbacks are refused, naming the lock; automatic deploys ship the ' +
      "branch head once unlocked. Without --for the environment's `lockTimeout` applies, if it has one.",
    options: {
      repository,
      environment: { ...environment, required: false, description: 'the environment, as the config repo names it (or --global)' },
      global: { type: 'boolean', description: 'lock every environment of the repository' },
      reason: { type: 'string', value: 'TEXT', description: 'why, shown with every refusal' },
      for: { type: 'string', value: 'DURATION', description: 'unlock by itself after this long, e.g. 30m or 2h' },
      by,
      hub,
      token: adminToken,
    },
    examples: ['bitenvoy lock -r acme/shop -e production --reason "db migration" --for 2h'],
  },
  unlock: {
    summary: 'release the lock of an environment; automatic deploys it held back go on',
    options: {
      repository,
      environment: { ...environment, required: false, description: 'the environment, as the config repo names it (or --global)' },
      global: { type: 'boolean', description: "release the repository's global lock" },
      by,
      hub,
      token: adminToken,
    },
    examples: ['bitenvoy unlock -r acme/shop -e production'],
  },
  audit: {
    summary: 'export the audit log: deploys, rollbacks, locks, refusals',
    options: {
      repository: { type: 'string', value: 'OWNER/NAME', description: 'only this repository' },
      limit: { type: 'string', value: 'N', description: 'at most the N newest entries' },
      format: { type: 'string', value: 'text|json|jsonl', description: 'output format', default: 'text' },
      hub,
      token: adminToken,
    },
    examples: ['bitenvoy audit --repository acme/shop --format jsonl > audit.jsonl'],
  },
  'store migrate': {
    summary: "move a hub's store from its SQLite file to an empty PostgreSQL database, verifiably",
    details:
      'Stop the hub first. Copies every table in batches, then counts and hashes each table on both sides and prints ' +
      'the figures; any difference fails the command. The target must be empty: nothing is overwritten or merged. ' +
      'The SQLite file is left as it was (migrated to this release first, as a hub starting on it would). Then start ' +
      'the hub with BITENVOY_DATABASE_URL set to the target.',
    options: {
      from: { type: 'string', value: 'sqlite:PATH', description: "the hub's data folder or its hub.sqlite file", required: true },
      to: { type: 'string', value: 'postgres://…', description: 'the empty PostgreSQL database', required: true },
    },
    environment: [
      { name: 'BITENVOY_DATABASE_CA_FILE', description: "the CA that signed the PostgreSQL server's certificate (sslmode=verify-full)" },
      { name: 'BITENVOY_DATABASE_PASSWORD_FILE', description: 'a file holding only the PostgreSQL password, so it is not in the URL' },
    ],
    examples: ['bitenvoy store migrate --from sqlite:/var/lib/bitenvoy --to postgres://bitenvoy@db.internal:5432/bitenvoy?sslmode=verify-full'],
  },
  demo: {
    summary: 'a whole deployment on this machine, end to end',
    details:
      'A git server, a hub and two agents in a temporary folder; deploys a sample app and checks both servers run it. ' +
      'Prints the status page and the admin token. Needs git and a POSIX shell.',
    options: {
      keep: { type: 'boolean', description: 'then leave everything running, with one more deployment waiting at a manual gate to Continue or Cancel (Ctrl-C stops it all)' },
      verbose: { type: 'boolean', description: "show the hub's and agents' own logs" },
    },
    examples: ['bitenvoy demo --keep'],
  },
  version: {
    summary: 'print the version (also -v, --version)',
    options: {},
    examples: ['bitenvoy version'],
  },
  help: {
    summary: "a command's options, environment variables and examples",
    positionals: [{ name: 'COMMAND', description: 'a command, e.g. `agent enroll`', optional: true }],
    options: {},
    examples: ['bitenvoy help hub token create'],
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandPath = keyof typeof COMMANDS;

/** Words that only group commands (`bitenvoy agent …`), with what the group is for. */
export const GROUPS: Readonly<Record<string, string>> = {
  agent: 'the agent, on each server: enroll once, then run (or install it as a service)',
  'hub token': 'enrollment tokens for agents',
  'hub user': "named operators for the status pages (local mode's sign-in per person)",
  store: "the hub's store: move it to PostgreSQL",
};

/** The spec of a command path, or undefined. */
export function commandSpec(path: string): CommandSpec | undefined {
  return Object.hasOwn(COMMANDS, path) ? (COMMANDS as Record<string, CommandSpec>)[path] : undefined;
}

/** Every command path, in the order help lists them. */
export const COMMAND_PATHS = Object.keys(COMMANDS) as CommandPath[];

/**
 * The synopsis of a command: required options and arguments bare, the rest in brackets.
 *
 * @example
 * synopsis('cancel'); // 'bitenvoy cancel DEPLOYMENT_ID [--by NAME] [--hub URL] [--token TOKEN]'
 */
export function synopsis(path: string): string {
  return synopsisParts(path).join(' ');
}

/** The synopsis as words that must stay together (`[--hub URL]`), for wrapping. */
export function synopsisParts(path: string): string[] {
  const spec = commandSpec(path);
  if (!spec) return [`bitenvoy ${path} <command> [options]`];
  const parts = [`bitenvoy ${path}`];
  for (const p of spec.positionals ?? []) parts.push(p.optional ? `[${p.name}]` : p.name);
  for (const [name, option] of Object.entries(spec.options)) {
    const flag = `--${name}${option.value ? ` ${option.value}` : ''}`;
    parts.push(option.required ? flag : `[${flag}]`);
  }
  return parts;
}
