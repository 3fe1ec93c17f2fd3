/**
 * Built artifacts delivered end to end with real processes: a hub on SQLite, one agent, git over HTTP, a file server
 * on loopback for `url` artifacts and Debian's docker-registry for an `oci` one. A static site ships with no checkout
 * (`source: artifact`); the same artifact again transfers nothing; tampered bytes, a tar with `../`, a source the
 * agent's allowlist does not name and a tag that does not exist are each refused with the reason, and the release
 * that was live stays live.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushCommit } from '../../testbed/git-repos.js';
import { pushOciArtifact } from '../../testbed/oci-push.js';
import { startOciRegistry, type OciRegistry } from '../../testbed/oci-registry.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { startWorld, type World } from '../../testbed/world.js';

const run = promisify(execFile);
const E2E_TIMEOUT = 120_000;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A tar.gz of `files`, made by the system's tar. */
async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-artifact-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(dir, 'in', path, '..'), { recursive: true });
      await writeFile(join(dir, 'in', path), text);
    }
    await run('tar', ['-czf', join(dir, 'out.tgz'), '-C', join(dir, 'in'), '.']);
    return await readFile(join(dir, 'out.tgz'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A tar (uncompressed) with one entry named `name`: tar itself refuses to make one that leads out. */
function tarWithEntry(name: string, text: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${text.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(Math.ceil(text.length / 512) * 512);
  body.write(text);
  return Buffer.concat([header, body, Buffer.alloc(1024)]);
}

function instructions(artifacts: string, extraSteps = ''): string {
  return `version: 1
source: artifact
artifacts:
${artifacts}
steps:
  - name: check
    run: |
      test -s index.html && ! test -e bitenvoy.yml && echo "the release holds the site and nothing of the repository"
${extraSteps}`;
}

describe('artifacts, delivered by the agent', () => {
  let world: World;
  let files: Server;
  let filesUrl = '';
  let registry: OciRegistry;
  const served = new Map<string, Buffer>();
  const requests: string[] = [];
  const siteV1 = tarGz({ 'index.html': '<h1>site v1</h1>\n', 'assets/app.js': 'console.log(1)\n' });

  beforeAll(async () => {
    files = createServer((req, res) => {
      requests.push(req.url ?? '');
      const body = served.get(req.url ?? '');
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    registry = await startOciRegistry();
    served.set('/site-v1.tgz', await siteV1);
    world = await startWorld({
      agents: 1,
      appFiles: { 'bitenvoy.yml': instructions(`  - name: site\n    url: { url: '${filesUrl}/site-v1.tgz', sha256: ${sha256(await siteV1)} }`) },
      hubEnv: { BITENVOY_INSECURE_REGISTRIES: registry.host },
      agentFiles: () => ({
        'agent.yml': `allow:\n  branches: [main]\n  artifactSources:\n    - ${filesUrl}/\n    - ${registry.host}/acme/*\n  insecureRegistries: [${registry.host}]\n`,
      }),
    });
  }, 10 * 60_000);

  afterAll(async () => {
    await world?.close();
    await registry?.close();
    await new Promise((resolve) => files?.close(resolve));
  });

  const current = () => join(world.agents[0]!.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT, 'current');

  it(
    'ships a static site with no checkout; the same artifact again transfers nothing, unless the disk changed it',
    async () => {
      const { deployment } = await world.deploy();
      const done = await world.waitForDeployment(deployment.id);
      expect(done.deployment.state, JSON.stringify(done.jobs.map((j) => j.logTail))).toBe('success');
      expect(done.deployment.artifacts).toEqual([expect.objectContaining({ name: 'site', source: 'url', url: `${filesUrl}/site-v1.tgz` })]);
      expect(await readFile(join(current(), 'index.html'), 'utf8')).toBe('<h1>site v1</h1>\n');
      expect(await readFile(join(current(), 'assets', 'app.js'), 'utf8')).toBe('console.log(1)\n');
      expect(done.jobs[0]!.logTail.join('\n')).toContain('the release holds the site and nothing of the repository');
      expect(requests.filter((r) => r === '/site-v1.tgz')).toHaveLength(1);

      const again = await world.waitForDeployment((await world.deploy()).deployment.id);
      expect(again.deployment.state).toBe('success');
      expect(again.jobs[0]!.logTail.join('\n')).toContain('already here (0 bytes transferred)');
      expect(requests.filter((r) => r === '/site-v1.tgz')).toHaveLength(1);

      // The cache is checked as it is used: bytes changed on the disk are dropped and downloaded again.
      await writeFile(join(world.agents[0]!.dir, 'artifacts', 'sha256', sha256(await siteV1)), 'not the artifact any more');
      const healed = await world.waitForDeployment((await world.deploy()).deployment.id);
      expect(healed.deployment.state).toBe('success');
      expect(healed.jobs[0]!.logTail.join('\n')).toContain('the cached copy no longer has sha256');
      expect(requests.filter((r) => r === '/site-v1.tgz')).toHaveLength(2);
      expect(await readFile(join(current(), 'index.html'), 'utf8')).toBe('<h1>site v1</h1>\n');
    },
    E2E_TIMEOUT,
  );

  /** Pushes `bitenvoy.yml`, deploys it, and expects the job to end `state` with `reason`, the live release untouched. */
  async function expectRefused(yml: string, state: 'failed' | 'refused', reason: RegExp | string): Promise<void> {
    const live = await readlink(current());
    await pushCommit(world.appRepo, { 'bitenvoy.yml': yml }, 'another artifact');
    const done = await world.waitForDeployment((await world.deploy()).deployment.id);
    expect(done.deployment.state).toBe('failure');
    expect(done.jobs[0]!.state).toBe(state);
    expect(done.jobs[0]!.message).toMatch(reason);
    expect(await readlink(current())).toBe(live);
  }

  it(
    'refuses tampered bytes, a tar entry leading out and a source the allowlist does not name; the live release stays',
    async () => {
      // The bytes CI built (never served) against what the server sends instead. (A digest already in the cache would
      // be delivered from there, whatever the URL: the digest, not the place, names the bytes.)
      const built = await tarGz({ 'index.html': '<h1>site v3, as CI built it</h1>\n' });
      served.set('/tampered.tgz', await tarGz({ 'index.html': '<h1>not what CI built</h1>\n' }));
      await expectRefused(instructions(`  - name: site\n    url: { url: '${filesUrl}/tampered.tgz', sha256: ${sha256(built)} }`), 'failed', /sha256|digest/i);

      const slip = tarWithEntry('../../escaped.txt', 'out of the release\n');
      served.set('/slip.tar', slip);
      await expectRefused(instructions(`  - name: site\n    url: { url: '${filesUrl}/slip.tar', sha256: ${sha256(slip)} }`), 'failed', /\.\.\/\.\.\/escaped\.txt/);

      const elsewhere = filesUrl.replace('127.0.0.1', 'localhost');
      const before = requests.length;
      await expectRefused(instructions(`  - name: site\n    url: { url: '${elsewhere}/site-v1.tgz', sha256: ${sha256(await siteV1)} }`), 'refused', /artifactSources/);
      expect(requests.length).toBe(before);
    },
    E2E_TIMEOUT,
  );

  it(
    'rolls back to a kept release of artifacts alone with its rollback steps, fetching nothing',
    async () => {
      const withRollback = (url: string, digest: string) =>
        instructions(`  - name: site\n    url: { url: '${url}', sha256: ${digest} }`) + 'rollback:\n  - name: say\n    run: echo "back on the kept site"\n';
      const siteV2 = await tarGz({ 'index.html': '<h1>site v2</h1>\n' });
      served.set('/site-v2.tgz', siteV2);
      await pushCommit(world.appRepo, { 'bitenvoy.yml': withRollback(`${filesUrl}/site-v1.tgz`, sha256(await siteV1)) }, 'site v1 with rollback steps');
      expect((await world.waitForDeployment((await world.deploy()).deployment.id)).deployment.state).toBe('success');
      await pushCommit(world.appRepo, { 'bitenvoy.yml': withRollback(`${filesUrl}/site-v2.tgz`, sha256(siteV2)) }, 'site v2');
      expect((await world.waitForDeployment((await world.deploy()).deployment.id)).deployment.state).toBe('success');
      expect(await readFile(join(current(), 'index.html'), 'utf8')).toBe('<h1>site v2</h1>\n');

      const before = requests.length;
      const res = await fetch(`${world.hub.url}/api/v1/environments/rollback`, {
        method: 'POST',
        headers: { authorization: `Bearer ${world.hub.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ repository: SAMPLE_REPOSITORY, environment: SAMPLE_ENVIRONMENT }),
      });
      expect(res.status).toBe(201);
      const rolledBack = await world.waitForDeployment(((await res.json()) as { deployment: { id: string } }).deployment.id);
      expect(rolledBack.deployment.state).toBe('success');
      const log = rolledBack.jobs[0]!.logTail.join('\n');
      expect(log).toContain('restoring the kept release');
      expect(log).toContain('back on the kept site');
      expect(await readFile(join(current(), 'index.html'), 'utf8')).toBe('<h1>site v1</h1>\n');
      expect(requests.length).toBe(before);
    },
    E2E_TIMEOUT,
  );

  it(
    'deploys an OCI artifact pinned to its digest when planned, and names a tag that does not exist',
    async () => {
      const site = await tarGz({ 'index.html': '<h1>site from the registry</h1>\n' });
      const pushed = await pushOciArtifact(registry, { repository: 'acme/site', tag: 'v2', files: [{ title: 'site.tgz', bytes: site }] });
      await pushCommit(world.appRepo, { 'bitenvoy.yml': instructions(`  - name: site\n    oci: { reference: '${registry.host}/acme/site:v2' }`) }, 'site from the registry');
      const done = await world.waitForDeployment((await world.deploy()).deployment.id);
      expect(done.deployment.state, JSON.stringify(done.jobs.map((j) => j.logTail))).toBe('success');
      expect(done.deployment.artifacts?.[0]?.oci).toEqual({ registry: registry.host, repository: 'acme/site', digest: pushed.digest });
      expect(await readFile(join(current(), 'index.html'), 'utf8')).toBe('<h1>site from the registry</h1>\n');

      await pushCommit(world.appRepo, { 'bitenvoy.yml': instructions(`  - name: site\n    oci: { reference: '${registry.host}/acme/site:v9' }`) }, 'a tag nobody pushed');
      const missing = (await world.deploy()).deployment;
      expect(missing.state).toBe('error');
      expect(missing.description).toMatch(/site.*v9.*does not exist/);
    },
    E2E_TIMEOUT,
  );
});
