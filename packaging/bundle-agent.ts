/**
 * Bundles the agent — `cli/bitenvoy-agent.ts` and everything it loads, its npm dependencies included — into one
 * CommonJS file: what the `@bitenvoy/agent` package ships and what `npm run package` puts into the self-contained
 * executables. The hub's code can never slip in: an import that leads into `app/` (or to a hub-only package) stops
 * the build and names the chain of files that led there.
 *
 * @example
 * const { file, bytes, inputs } = await bundleAgent({ outFile: 'packages/agent/dist/bitenvoy-agent.cjs' });
 */
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { packageRoot, version } from '../lib/package-root.js';

/** Packages only the hub uses: finding one in the agent's bundle is a mistake in an import somewhere. */
export const HUB_ONLY_PACKAGES = ['probot', 'koa', '@koa/router', 'pg', 'prom-client', '@aws-sdk/', '@octokit/', 'keyv', 'pino-http'];

export interface AgentBundle {
  file: string;
  bytes: number;
  /** The bundle's inputs, relative to the package root: what the agent is made of. */
  inputs: string[];
}

/**
 * A module that may not be in the agent: the command registry's help reaches for the hub's settings table with a
 * dynamic import, which the agent executable never shows; such imports become a module that says so when loaded.
 */
function keepHubOut(root: string): Plugin {
  return {
    name: 'keep-hub-out',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        const hubPackage = HUB_ONLY_PACKAGES.find((p) => args.path === p || args.path.startsWith(p.endsWith('/') ? p : `${p}/`));
        if (hubPackage) return { errors: [{ text: `the agent imports the hub-only package \`${args.path}\` (from ${relative(root, args.importer)})` }] };
        if (!args.path.startsWith('.')) return undefined;
        const target = relative(root, join(dirname(args.importer), args.path));
        if (!target.startsWith('app/')) return undefined;
        if (args.kind === 'dynamic-import') return { path: target, namespace: 'hub-only' };
        return { errors: [{ text: `the agent imports hub code: ${relative(root, args.importer)} → ${target}; move what the agent needs to lib/` }] };
      });
      b.onLoad({ filter: /.*/, namespace: 'hub-only' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is part of the hub, not of the agent executable: run \`bitenvoy\` (the npm package) for it`)});`,
        loader: 'js',
      }));
    },
  };
}

/**
 * Node modules the agent's logger (pino) loads but never uses here, each replaced by the little it needs: pino asks
 * `worker_threads` only whether it runs in the main thread (the agent's logger always does), its transports
 * (`thread-stream`, worker threads) are never configured, and sonic-boom uses `assert` for one check. Together they
 * cost an idle agent about 3 MB of Node's own modules.
 */
const LEAN_REPLACEMENTS: readonly { module: string; importer: RegExp; contents: string }[] = [
  { module: 'worker_threads', importer: /node_modules[\\/]pino[\\/]lib[\\/]tools\.js$/, contents: 'module.exports = { isMainThread: true };' },
  {
    module: 'thread-stream',
    importer: /node_modules[\\/]pino[\\/]lib[\\/]transport\.js$/,
    contents: "module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not part of the BitEnvoy agent'); } };",
  },
  { module: 'assert', importer: /node_modules[\\/]sonic-boom[\\/]index\.js$/, contents: "module.exports = function assert(value, message) { if (!value) throw new Error(message || 'assertion failed'); };" },
];

function leanRuntime(): Plugin {
  return {
    name: 'lean-runtime',
    setup(b) {
      b.onResolve({ filter: /^(worker_threads|thread-stream|assert)$/ }, (args) => {
        const replacement = LEAN_REPLACEMENTS.find((r) => r.module === args.path && r.importer.test(args.importer));
        return replacement ? { path: `${replacement.module} (for ${args.importer.replace(/.*node_modules[\\/]/, '')})`, namespace: 'lean' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'lean' }, (args) => ({ contents: LEAN_REPLACEMENTS.find((r) => args.path.startsWith(`${r.module} `))!.contents, loader: 'js' }));
    },
  };
}

/**
 * Bundles the agent into `outFile` (CommonJS, for Node 22 and newer). `import.meta.url` — which some modules use to
 * `require` Node's own modules lazily — stands for the bundle file itself.
 */
export async function bundleAgent(options: { outFile: string; minify?: boolean; /** Another entry (tests). */ entry?: string }): Promise<AgentBundle> {
  const root = packageRoot();
  await mkdir(dirname(options.outFile), { recursive: true });
  const result = await build({
    entryPoints: [options.entry ?? join(root, 'packaging', 'agent-main.ts')],
    outfile: options.outFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    minify: options.minify ?? true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    banner: { js: `/* BitEnvoy agent ${version} — bundled; the sources are in the bitenvoy repository */\nvar __agent_import_meta_url = require('node:url').pathToFileURL(__filename).href;` },
    define: { 'import.meta.url': '__agent_import_meta_url' },
    plugins: [keepHubOut(root), leanRuntime()],
  });
  const metafile: Metafile = result.metafile;
  const output = Object.values(metafile.outputs)[0]!;
  return { file: options.outFile, bytes: output.bytes, inputs: Object.keys(metafile.inputs).sort() };
}

/** `npm run build:agent`: the `@bitenvoy/agent` package's one file, `packages/agent/dist/bitenvoy-agent.cjs`. */
export function agentPackageBundle(): string {
  return join(packageRoot(), 'packages', 'agent', 'dist', 'bitenvoy-agent.cjs');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  bundleAgent({ outFile: agentPackageBundle() }).then(
    async (bundle) => {
      await chmod(bundle.file, 0o755);
      process.stdout.write(`${relative(process.cwd(), bundle.file) || bundle.file}  ${(bundle.bytes / 1e3).toFixed(0)} kB from ${bundle.inputs.length} files\n`);
    },
    (err: unknown) => {
      process.stderr.write(`build:agent: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
