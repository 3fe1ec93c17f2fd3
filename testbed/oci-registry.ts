/**
 * A real OCI distribution registry for the tests: Debian's `docker-registry` (the distribution project's registry,
 * the code GHCR and most registries descend from), started on 127.0.0.1 at a free port with filesystem storage in a
 * temporary folder, and stopped with its process group on `close`. Optionally with token auth the way GHCR does it:
 * the registry answers 401 with a Bearer challenge and trusts the tokens of the testbed's token server.
 *
 * @example
 * const registry = await startOciRegistry();
 * const pushed = await pushOciArtifact(registry, { repository: 'acme/site', tag: '1.2.0', files: [{ title: 'site.tar.gz', bytes }] });
 * // resolve `${registry.host}/acme/site:1.2.0` with insecureRegistries: [registry.host]
 * await registry.close();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCommand } from './ensure-command.js';
import { startOciTokenServer, type OciTokenServer, type OciTokenServerOptions } from './oci-token-server.js';

export interface OciRegistry {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `127.0.0.1:PORT`: the registry part of references, and the entry for `insecureRegistries`. */
  host: string;
  /** With token auth: the token server (its host must be in `insecureRegistries` too; it mints push tokens). */
  tokens: OciTokenServer | undefined;
  /** Milliseconds from spawning the registry to its first answer on `/v2/`. */
  startMs: number;
  /** What the registry printed (for a failing test's message). */
  output(): string;
  close(): Promise<void>;
}

export interface OciRegistryOptions {
  /** Allow `DELETE` of manifests and blobs. */
  deleteEnabled?: boolean;
  /** Require Bearer tokens from a token server the testbed starts (anonymous pull unless said otherwise). */
  tokenAuth?: OciTokenServerOptions;
}

const START_ATTEMPTS = 3;

export async function startOciRegistry(options: OciRegistryOptions = {}): Promise<OciRegistry> {
  const binary = await ensureCommand({ command: 'docker-registry', paths: ['/usr/bin/docker-registry'], debianPackage: 'docker-registry', purpose: 'the OCI artifact tests' });
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-oci-registry-'));
  const tokens = options.tokenAuth ? await startOciTokenServer(dir, options.tokenAuth) : undefined;
  try {
    let lastError: Error | undefined;
    // A free port found by binding port 0 can be taken by someone else before the registry binds it: try again.
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const port = await findFreePort();
      const config = join(dir, `config-${port}.yml`);
      await writeFile(config, JSON.stringify(registryConfig(dir, port, options, tokens)));
      const started = Date.now();
      const child = spawn(binary, ['serve', config], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: registryEnv() });
      let out = '';
      const collect = (chunk: Buffer) => void (out = (out + chunk.toString()).slice(-100_000));
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const stopGroup = () => killGroup(child, 'SIGKILL');
      // A test process that dies without `close` must not leave a registry behind.
      process.once('exit', stopGroup);
      const url = `http://127.0.0.1:${port}`;
      if (await waitReady(url, exited)) {
        return {
          url,
          host: `127.0.0.1:${port}`,
          tokens,
          startMs: Date.now() - started,
          output: () => out,
          close: async () => {
            process.off('exit', stopGroup);
            killGroup(child, 'SIGTERM');
            const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref())]);
            if (!gone) {
              killGroup(child, 'SIGKILL');
              await exited;
            }
            await tokens?.close();
            await rm(dir, { recursive: true, force: true });
          },
        };
      }
      process.off('exit', stopGroup);
      killGroup(child, 'SIGKILL');
      await exited;
      lastError = new Error(`docker-registry did not answer on ${url}/v2/ (attempt ${attempt + 1}); it printed:\n${out.slice(-4000)}`);
    }
    throw lastError ?? new Error('docker-registry did not start');
  } catch (err) {
    await tokens?.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function registryConfig(dir: string, port: number, options: OciRegistryOptions, tokens: OciTokenServer | undefined): object {
  // JSON is YAML: the registry reads this file as its YAML config.
  return {
    version: '0.1',
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'storage') },
      delete: { enabled: options.deleteEnabled ?? false },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
    ...(tokens ? { auth: { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootcertbundle: tokens.certificatePath } } } : {}),
  };
}

/** Our environment without `REGISTRY_*` variables, which would override the generated config. */
function registryEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')));
}

async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True once `GET /v2/` answers 200 (open) or 401 (token auth); false if the process exits or 10 s pass first. */
async function waitReady(url: string, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (!gone && Date.now() < deadline) {
    const status = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) }).then((res) => (void res.body?.cancel(), res.status), () => 0);
    if (status === 200 || status === 401) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}
