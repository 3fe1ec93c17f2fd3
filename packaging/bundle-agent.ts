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
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { packageRoot, version } from '../lib/package-root.js';

/** Packages only the hub uses: finding one in the agent's bundle is a mistake in an import somewhere. */
export const HUB_ONLY_PACKAGES = ['probot', 'koa', '@koa/router', 'pg', 'prom-client', '@aws-sdk/', '@octokit/', 'keyv', 'pino-http'];

export interface AgentBundle {
  file: string;
  bytes: number;
  /** The bundle's inputs (both files), relative to the package root: what the agent is made of. */
  inputs: string[];
  /** The modules of the main file: what an idle agent loads. */
  mainInputs: string[];
  /** The lazy part, {@link LAZY_FILE} beside `file`: the code a job, enrolling or installing loads when first needed. */
  lazyFile: string;
  lazyBytes: number;
  /** The modules bundled into the lazy file (the main file's are taken from it, never bundled twice). */
  lazyInputs: string[];
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
 * The dynamic imports `bitenvoy-agent run` makes before its first job. They stay in the main file with what they
 * import; every other dynamic import (the job's code, ajv, yaml, sigstore, enroll, install, help) goes to the lazy
 * file, read when first needed. An idle agent so holds about a fifth of the agent's code: V8 keeps a copy of a
 * script's whole source, and the executable's pages of it are resident too.
 */
export const WARM_IMPORTS: readonly string[] = ['cli/commands/agent.ts', 'agent/agent-config.ts', 'agent/run-agent.ts', 'agent/service/start-marker.ts', 'lib/package-root.ts'];

/** The lazy file's name: beside the main file in the npm package, an asset of that name in the executables. */
export const LAZY_FILE = 'bitenvoy-agent-lazy.cjs';

/** Where the main file offers its modules to the lazy file, so both share one instance of each (`instanceof` holds). */
const SHARED_KEY = "Symbol.for('bitenvoy.agent.modules')";

/**
 * Loads the lazy file once: an asset of a single executable (compiled with Node's own module wrapper's arguments), or
 * the file beside this one. It finds the main file's modules through {@link SHARED_KEY}.
 */
const LAZY_LOADER = `
let lazy;
exports.loadLazy = function loadLazy() {
  if (lazy) return lazy;
  const sea = require('node:sea');
  const module = { exports: {} };
  if (sea.isSea()) {
    const source = sea.getAsset(${JSON.stringify(LAZY_FILE)}, 'utf8');
    const run = require('node:vm').compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: ${JSON.stringify(LAZY_FILE)} });
    run(module.exports, require, module, __filename, __dirname);
  } else {
    module.exports = require(require('node:path').join(__dirname, ${JSON.stringify(LAZY_FILE)}));
  }
  return (lazy = module.exports);
};
`;

/**
 * The npm package's main file stops at once, saying what to do, when its lazy file is not beside it (one file copied
 * alone): otherwise the agent would start, poll, and fail its first job.
 */
const LAZY_FILE_CHECK = `{
  const lazy = require('node:path').join(__dirname, ${JSON.stringify(LAZY_FILE)});
  if (!require('node:sea').isSea() && !require('node:fs').existsSync(lazy)) {
    process.stderr.write('bitenvoy: ' + lazy + ' is missing: the agent is two files that belong together; install @bitenvoy/agent again (npm install -g @bitenvoy/agent), or copy both files of packages/agent/dist\\n');
    process.exit(2);
  }
}
`;

const BANNER = "var __agent_import_meta_url = require('node:url').pathToFileURL(__filename).href;";

/**
 * Bundles the agent into `outFile` and its lazy part into {@link LAZY_FILE} beside it (CommonJS, for Node 22 and
 * newer). `import.meta.url` — which some modules use to `require` Node's own modules lazily — stands for the bundle
 * file itself. The sources are ASCII only (esbuild escapes the rest), so V8 holds them at one byte a character.
 */
export async function bundleAgent(options: { outFile: string; minify?: boolean; /** Another entry (tests). */ entry?: string }): Promise<AgentBundle> {
  const root = packageRoot();
  await mkdir(dirname(options.outFile), { recursive: true });
  const entry = options.entry ?? join(root, 'packaging', 'agent-main.ts');
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    minify: options.minify ?? true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    define: { 'import.meta.url': '__agent_import_meta_url' },
  } as const;
  // First what the main file holds: its modules, and the dynamic imports that leave it.
  const lazyTargets = new Map<string, string>();
  const probe = await build({ ...common, entryPoints: [entry], write: false, plugins: [keepHubOut(root), leanRuntime(), toLazyFile(root, lazyTargets)] });
  const mainModules = Object.keys(probe.metafile.inputs).filter((input) => !input.includes(':'));
  const sharedSource = mainModules.map((m) => `  get ${JSON.stringify(m)}() { return require(${JSON.stringify(join(root, m))}); },`).join('\n');
  const main = await build({
    ...common,
    stdin: { contents: `${LAZY_FILE_CHECK}globalThis[${SHARED_KEY}] = {\n${sharedSource}\n};\nrequire(${JSON.stringify(entry)});\n`, resolveDir: root, sourcefile: 'agent-entry.cjs', loader: 'js' },
    outfile: options.outFile,
    banner: { js: `#!/usr/bin/env node\n/* BitEnvoy agent ${version} - bundled; the sources are in the bitenvoy repository */\n${BANNER}` },
    plugins: [keepHubOut(root), leanRuntime(), toLazyFile(root, new Map())],
  });
  const lazyFile = join(dirname(options.outFile), LAZY_FILE);
  const lazySource = [...lazyTargets].map(([key, file]) => `  get ${JSON.stringify(key)}() { return require(${JSON.stringify(file)}); },`).join('\n');
  const lazy = await build({
    ...common,
    stdin: { contents: `module.exports = {\n${lazySource}\n};\n`, resolveDir: root, sourcefile: 'agent-lazy.cjs', loader: 'js' },
    outfile: lazyFile,
    banner: { js: BANNER },
    plugins: [keepHubOut(root), leanRuntime(), fromMainFile(root, new Set(mainModules))],
  });
  const modules = (m: Metafile) => Object.keys(m.inputs).filter((i) => !/^(<stdin>|lazy:|shared:|lazy-loader:)/.test(i));
  const bytes = (m: Metafile) => Object.values(m.outputs)[0]!.bytes;
  return {
    file: options.outFile,
    bytes: bytes(main.metafile),
    inputs: [...new Set([...modules(main.metafile), ...modules(lazy.metafile)])].sort(),
    mainInputs: mainModules.sort(),
    lazyFile,
    lazyBytes: bytes(lazy.metafile),
    lazyInputs: modules(lazy.metafile).sort(),
  };
}

/**
 * In the main file: a dynamic import of anything but {@link WARM_IMPORTS} becomes a module that takes it from the lazy
 * file (recorded in `targets`, key → file).
 */
function toLazyFile(root: string, targets: Map<string, string>): Plugin {
  return {
    name: 'to-lazy-file',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || args.pluginData === 'resolving') return undefined;
        const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
        // What does not resolve to a file is left to esbuild (an optional `require` in a `try` stays a `require`).
        if (resolved.errors.length || resolved.external || resolved.namespace !== 'file') return undefined;
        const key = relative(root, resolved.path).split(sep).join('/');
        if (WARM_IMPORTS.includes(key)) return { path: resolved.path };
        targets.set(key, resolved.path);
        return { path: key, namespace: 'lazy' };
      });
      b.onResolve({ filter: /^bitenvoy-lazy-loader$/ }, () => ({ path: 'loader', namespace: 'lazy-loader' }));
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({ contents: `module.exports = require('bitenvoy-lazy-loader').loadLazy()[${JSON.stringify(args.path)}];`, loader: 'js', resolveDir: root }));
      b.onLoad({ filter: /.*/, namespace: 'lazy-loader' }, () => ({ contents: LAZY_LOADER, loader: 'js' }));
    },
  };
}

/** In the lazy file: a module the main file holds is taken from it, not bundled a second time. */
function fromMainFile(root: string, mainModules: ReadonlySet<string>): Plugin {
  return {
    name: 'from-main-file',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData === 'resolving') return undefined;
        const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
        // What does not resolve to a file is left to esbuild (an optional `require` in a `try` stays a `require`).
        if (resolved.errors.length || resolved.external || resolved.namespace !== 'file') return undefined;
        const key = relative(root, resolved.path).split(sep).join('/');
        return mainModules.has(key) ? { path: key, namespace: 'shared' } : { path: resolved.path, sideEffects: resolved.sideEffects };
      });
      b.onLoad({ filter: /.*/, namespace: 'shared' }, (args) => ({ contents: `module.exports = globalThis[${SHARED_KEY}][${JSON.stringify(args.path)}];`, loader: 'js' }));
    },
  };
}

/** `npm run build:agent`: the `@bitenvoy/agent` package's one file, `packages/agent/dist/bitenvoy-agent.cjs`. */
export function agentPackageBundle(): string {
  return join(packageRoot(), 'packages', 'agent', 'dist', 'bitenvoy-agent.cjs');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  bundleAgent({ outFile: agentPackageBundle() }).then(
    async (bundle) => {
      await chmod(bundle.file, 0o755);
      const kB = (bytes: number) => `${(bytes / 1e3).toFixed(0)} kB`;
      process.stdout.write(`${relative(process.cwd(), bundle.file) || bundle.file}  ${kB(bundle.bytes)} (${bundle.mainInputs.length} files; ${relative(process.cwd(), bundle.lazyFile)} ${kB(bundle.lazyBytes)}) from ${bundle.inputs.length} files\n`);
    },
    (err: unknown) => {
      process.stderr.write(`build:agent: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
