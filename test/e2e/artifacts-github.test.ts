/**
 * A binary built by GitHub Actions, deployed with provenance required, end to end: a hub in GitHub mode against the
 * local GitHub stand-in, one real agent whose agent.yml allows Actions artifacts of that GitHub and requires a build
 * attestation from the repository's `build.yml` checked against a trust root made for the test. A green commit's
 * artifact (a zip holding `bin/app`) ships with no checkout and runs; an artifact attested for another commit is
 * refused and the live release stays; a green commit whose workflow has not run yet waits for it like for a required
 * check, and one whose workflow never runs within `checksTimeout` gives an error deployment saying so.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCommand } from '../../testbed/ensure-command.js';
import type { StandInDeployment } from '../../testbed/github-stand-in.js';
import { SAMPLE_ENVIRONMENT, SAMPLE_REPOSITORY } from '../../testbed/sample-app.js';
import { SigstoreTrust } from '../../testbed/sigstore-trust.js';
import { startWorld, type World } from '../../testbed/world.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const E2E_TIMEOUT = 120_000;
const WORKFLOW = '.github/workflows/build.yml';
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');


/** A zip (Info-ZIP, as actions/upload-artifact makes) holding an executable `bin/app` that prints `says`. */
async function appZip(says: string): Promise<Buffer> {
  const zip = await ensureCommand({ command: 'zip', paths: ['/usr/bin/zip'], debianPackage: 'zip', purpose: 'the artifact tests' });
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-app-zip-'));
  try {
    await mkdir(join(dir, 'in', 'bin'), { recursive: true });
    await writeFile(join(dir, 'in', 'bin', 'app'), `#!/bin/sh\necho "${says}"\n`);
    await chmod(join(dir, 'in', 'bin', 'app'), 0o755);
    await run(zip, ['-qr', join(dir, 'app.zip'), '.'], { cwd: join(dir, 'in') });
    return await readFile(join(dir, 'app.zip'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const INSTRUCTIONS = `version: 1
source: artifact
artifacts:
  - name: app
    githubActions: { workflow: build.yml, artifact: app }
steps:
  - name: run
    run: ./bin/app
`;

describe('a GitHub Actions artifact with provenance required', () => {
  let world: World;
  let trust: SigstoreTrust;
  const github = () => world.github!;
  const finalStatus = (d: StandInDeployment) => d.statuses.map((s) => s.state as string).find((s) => ['success', 'failure', 'error'].includes(s));
  const current = () => join(world.agents[0]!.dir, 'apps', SAMPLE_REPOSITORY, SAMPLE_ENVIRONMENT, 'current');

  beforeAll(async () => {
    trust = await SigstoreTrust.create();
    // checksTimeout 8s: how long a green commit waits for the workflow that builds its artifact.
    world = await startWorld({ agents: 1, github: { requiredChecks: ['test'], checksTimeout: '8s' } });
    // The server's owner: Actions artifacts of this GitHub only, and only with an attestation from build.yml.
    const agent = world.agents[0]!;
    await agent.process.stop();
    await copyFile(trust.trustedRootPath, join(agent.dir, 'trusted_root.json'));
    await writeFile(
      join(agent.dir, 'agent.yml'),
      `allow:\n  gitBaseUrls: [${world.git.url}/]\n  branches: [main]\n  artifactSources: [github-actions@http://${github().host}, github-releases@http://${github().host}]\n` +
        `requireProvenance:\n  repository: ${SAMPLE_REPOSITORY}\n  workflow: ${WORKFLOW}\n  trustRoot: trusted_root.json\n`,
    );
    world.startAgent(0);
  }, 10 * 60_000);
  afterAll(async () => {
    await world?.close();
    trust?.cleanup();
  });

  /** Pushes the instruction file, lets `build.yml` upload `zip` (attested for `attestedCommit`), and passes `test`. */
  async function buildAndPass(zip: Buffer, attestedCommit?: ((sha: string) => string) | 'no attestation'): Promise<{ sha: string; deployment: StandInDeployment }> {
    const { sha } = await github().push(SAMPLE_REPOSITORY, 'main', { 'bitenvoy.yml': INSTRUCTIONS, 'VERSION': `${Date.now()}\n` }, 'build the app');
    github().addWorkflowRun(SAMPLE_REPOSITORY, { workflow: 'build.yml', headSha: sha, headBranch: 'main', artifacts: [{ name: 'app', bytes: zip }] });
    if (attestedCommit !== 'no attestation') {
      github().addAttestation(SAMPLE_REPOSITORY, sha256(zip), trust.sign({ sha256: sha256(zip), repository: SAMPLE_REPOSITORY, workflow: WORKFLOW, commit: attestedCommit?.(sha) ?? sha }));
    }
    await github().reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success');
    const deployment = await until('a deployment', () => github().deployments.find((d) => d.sha === sha));
    return { sha, deployment };
  }

  it(
    'ships the attested artifact of exactly the green commit, with no checkout, and runs it',
    async () => {
      const zip = await appZip('app built by CI');
      const { sha, deployment } = await buildAndPass(zip);
      expect(await until('a final status', () => finalStatus(deployment))).toBe('success');
      const rollout = (deployment.body.payload as { bitenvoy: { rollout: string } }).bitenvoy.rollout;
      // GitHub's record of the deployment names the bytes it ships.
      expect(deployment.body.payload).toMatchObject({ bitenvoy: { artifacts: [{ name: 'app', source: 'github-actions', digest: `sha256:${sha256(zip)}` }] } });
      const view = await world.waitForDeployment(rollout);
      expect(view.deployment.artifacts).toEqual([expect.objectContaining({ name: 'app', source: 'github-actions', sha256: sha256(zip) })]);
      const log = view.jobs[0]!.logTail.join('\n');
      expect(log).toContain('app built by CI');
      expect(log).toMatch(new RegExp(`built by .*build\\.yml@refs/heads/main at ${sha.slice(0, 7)} \\(attestation verified\\)`));
      expect(await readFile(join(current(), 'bin', 'app'), 'utf8')).toContain('app built by CI');
      // The token went to GitHub's API only: the storage URL it redirected to was fetched without it.
      expect(github().blobRequests.length).toBeGreaterThan(0);
      expect(github().blobRequests.every((r) => !r.authorization)).toBe(true);
      // Every request as GitHub describes it — except that GitHub Enterprise Server 3.19 has no attestations API
      // (api.github.com has): asked there, it answers 404, which the hub takes as "no attestation".
      const problems = github().requests.flatMap((r) => r.problems).filter((p) => !/^ghes-[\d.]+: no operation for path \/repos\/[^/]+\/[^/]+\/attestations\//.test(p));
      expect(problems).toEqual([]);
      expect(github().requests.filter((r) => r.path.includes('/attestations/')).every((r) => r.problems.every((p) => p.startsWith('ghes-')))).toBe(true);
    },
    E2E_TIMEOUT,
  );

  it(
    'ships a release asset found by pattern, attested for the commit',
    async () => {
      const zip = await appZip('app from the release');
      const yml = INSTRUCTIONS.replace('githubActions: { workflow: build.yml, artifact: app }', "githubRelease: { tag: 'v-{shortSha}', asset: 'app-*.zip' }");
      const { sha } = await github().push(SAMPLE_REPOSITORY, 'main', { 'bitenvoy.yml': yml, 'VERSION': 'release\n' }, 'ship the release asset');
      github().addRelease(SAMPLE_REPOSITORY, { tag: `v-${sha.slice(0, 7)}`, assets: [{ name: 'app-linux-x64.zip', bytes: zip }, { name: 'notes.txt', bytes: Buffer.from('notes') }] });
      github().addAttestation(SAMPLE_REPOSITORY, sha256(zip), trust.sign({ sha256: sha256(zip), repository: SAMPLE_REPOSITORY, workflow: WORKFLOW, commit: sha }));
      await github().reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success');
      const deployment = await until('a deployment', () => github().deployments.find((d) => d.sha === sha));
      const view = await world.waitForDeployment((deployment.body.payload as { bitenvoy: { rollout: string } }).bitenvoy.rollout);
      expect(view.deployment.state, JSON.stringify([view.deployment.description, view.jobs.map((j) => j.logTail)])).toBe('success');
      expect(view.deployment.artifacts).toEqual([expect.objectContaining({ name: 'app', source: 'github-release', sha256: sha256(zip) })]);
      expect(view.jobs[0]!.logTail.join('\n')).toContain('app from the release');
    },
    E2E_TIMEOUT,
  );

  it.each([
    ['attested for another commit', () => 'f'.repeat(40), /commit/],
    ['with no attestation at all', 'no attestation' as const, /no valid build attestation|no attestation|no bundle/i],
  ])(
    'refuses an artifact %s, and the live release stays',
    async (_name, attested, reason) => {
      const live = await readlink(current());
      const { deployment } = await buildAndPass(await appZip(`bytes ${String(_name)}`), attested);
      expect(await until('a final status', () => finalStatus(deployment))).toBe('failure');
      const rollout = (deployment.body.payload as { bitenvoy: { rollout: string } }).bitenvoy.rollout;
      const view = await world.waitForDeployment(rollout);
      expect(view.jobs[0]!.state).toBe('failed');
      expect(view.jobs[0]!.message).toMatch(reason);
      expect(await readlink(current())).toBe(live);
    },
    E2E_TIMEOUT,
  );

  it(
    'waits, green, for the workflow that builds the artifact, and deploys once it has run',
    async () => {
      const zip = await appZip('built after the tests passed');
      const { sha } = await github().push(SAMPLE_REPOSITORY, 'main', { 'bitenvoy.yml': INSTRUCTIONS, 'VERSION': 'slow build\n' }, 'a slow build');
      await github().reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success');
      // Green, but build.yml has not run for it: no deployment yet (before, one was made and failed at once).
      await new Promise((r) => setTimeout(r, 2500));
      expect(github().deployments.find((d) => d.sha === sha)).toBeUndefined();

      github().addWorkflowRun(SAMPLE_REPOSITORY, { workflow: 'build.yml', headSha: sha, headBranch: 'main', artifacts: [{ name: 'app', bytes: zip }] });
      github().addAttestation(SAMPLE_REPOSITORY, sha256(zip), trust.sign({ sha256: sha256(zip), repository: SAMPLE_REPOSITORY, workflow: WORKFLOW, commit: sha }));
      // The workflow's own check suite completing is the event that has the commit looked at again.
      await github().reportCheck(SAMPLE_REPOSITORY, sha, 'build', 'success');
      const deployment = await until('a deployment', () => github().deployments.find((d) => d.sha === sha));
      expect(await until('a final status', () => finalStatus(deployment))).toBe('success');
    },
    E2E_TIMEOUT,
  );

  it(
    "says a commit's workflow never ran within checksTimeout, as an error deployment naming it",
    async () => {
      const { sha } = await github().push(SAMPLE_REPOSITORY, 'main', { 'bitenvoy.yml': INSTRUCTIONS, 'VERSION': 'no build\n' }, 'not built at all');
      await github().reportCheck(SAMPLE_REPOSITORY, sha, 'test', 'success');
      const deployment = await until('a deployment, once checksTimeout passed', () => github().deployments.find((d) => d.sha === sha), 60_000);
      expect(await until('a final status', () => finalStatus(deployment))).toBe('error');
      expect(String(deployment.statuses.at(-1)?.description)).toMatch(/build\.yml.*no successful run/);
    },
    E2E_TIMEOUT,
  );
});
