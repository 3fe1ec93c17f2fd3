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

const args = process.argv.slice(2);
if (isRecentEnough(process.versions.node)) {
  const { runCli } = await import('./main.js');
  runCli(args);
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
