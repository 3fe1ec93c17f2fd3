#!/usr/bin/env node
/**
 * The `bitenvoy` entry. Before anything else loads it makes sure the Node version is one BitEnvoy runs on (the hub's
 * store is Node's built-in `node:sqlite`): on an older Node it runs itself again with the Node this package brought
 * along (the pinned `node` package in its node_modules), or stops with a sentence saying which Node is needed and how
 * to get it — never a stack trace. Only Node's own modules are imported here, so any Node can read this file.
 */
// Node's own modules only, and those of the old-Node path loaded only there: an agent on a small server pays for none.

/** The oldest Node BitEnvoy runs on: node:sqlite without a flag. */
const MINIMUM = [22, 13] as const;

function isRecentEnough(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1]);
}

/** The Node binary of the pinned `node` package, when npm installed it with this one. */
async function bundledNode(): Promise<string | undefined> {
  const [{ existsSync }, { createRequire }, { dirname, join }] = await Promise.all([import('node:fs'), import('node:module'), import('node:path')]);
  try {
    const binary = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The hub's young generation, in MB per semi-space. V8's default lets it grow to 64 MB under a fleet's polls, all of
 * it resident: at 4 MB a hub holding 10,000 agents uses ~40 MB less memory for the same CPU (bench/fleet.ts).
 */
const HUB_SEMI_SPACE_MB = 4;

/**
 * `bitenvoy hub` replaces itself (same process id, same stdio, no second process) with Node started with the young
 * generation above, unless the operator chose one in NODE_OPTIONS or on the command line, or the platform has no
 * `execve` (Windows). V8 reads the flag only at start.
 */
function execHubWithHeapFlags(args: string[]): void {
  const isHub = args[0] === 'hub' && (args[1] === undefined || args[1].startsWith('-'));
  const chosen = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((flag) => flag.includes('semi-space-size'));
  // After the exec the flag is in execArgv: this runs once.
  if (!isHub || chosen || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [process.execPath, `--max-semi-space-size=${HUB_SEMI_SPACE_MB}`, ...process.execArgv, process.argv[1]!, ...args], process.env);
}

const args = process.argv.slice(2);
if (isRecentEnough(process.versions.node)) {
  execHubWithHeapFlags(args);
  const [{ runCli }, { COMMAND_LOADERS }] = await Promise.all([import('./main.js'), import('./command-loaders.js')]);
  runCli(args, COMMAND_LOADERS);
} else {
  // Once only: a bundled Node that still reported an old version must not start a chain of processes.
  const node = process.env.BITENVOY_REEXEC ? undefined : await bundledNode();
  if (!node) {
    process.stderr.write(
      `bitenvoy: this is Node ${process.versions.node}; BitEnvoy needs Node ${MINIMUM.join('.')} or newer (24 is the target). ` +
        'Install Node 24 (https://nodejs.org, or your package manager), or install BitEnvoy with npm without --omit=optional so it brings its own Node, then run it again.\n',
    );
    process.exit(1);
  }
  // The same command on the Node this package brought; signals reach it, its exit status is ours.
  const [{ spawn }, { fileURLToPath }] = await Promise.all([import('node:child_process'), import('node:url')]);
  const child = spawn(node, [fileURLToPath(import.meta.url), ...args], { stdio: 'inherit', env: { ...process.env, BITENVOY_REEXEC: '1' } });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (!signal) process.exit(code ?? 1);
    // Ended by a signal: end the same way (without our forwarding handler in the way).
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
}
