/**
 * What the GitHub artifact tests share: the GitHub stand-in over real HTTP with the App installed on `acme` (11) and
 * `globex` (12), a real Probot whose installation and App clients talk to it (retry and throttle off), and real zip
 * files made by the system's `zip`.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Probot, ProbotOctokit } from 'probot';
import type { StatusOctokit } from '../../../app/github/status-reporter.js';
import { silentLogger } from '../../../lib/logger.js';
import { ensureCommand } from '../../../testbed/ensure-command.js';
import { startGitHubStandIn, type GitHubStandIn } from '../../../testbed/github-stand-in.js';

const run = promisify(execFile);

export const ACME = 11;
export const GLOBEX = 12;

export interface GitHubArtifactsRig {
  github: GitHubStandIn;
  /** The hub's client for an installation, as `probot.auth(id)` gives it. */
  installation(id?: number): Promise<StatusOctokit>;
  /** The App's own client (JWT), which mints installation tokens. */
  app(): Promise<StatusOctokit>;
  close(): Promise<void>;
}

export async function startGitHubArtifactsRig(): Promise<GitHubArtifactsRig> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const github = await startGitHubStandIn({ gitUrl: 'http://127.0.0.1:9', appId: '123', privateKey, webhookSecret: 'unused' });
  github.addInstallation('acme', ACME);
  github.addInstallation('globex', GLOBEX);
  const probot = new Probot({ appId: 123, privateKey, baseUrl: `${github.url}/api/v3`, log: silentLogger(), Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
  return {
    github,
    installation: async (id = ACME) => (await probot.auth(id)) as StatusOctokit,
    app: async () => (await probot.auth()) as StatusOctokit,
    close: () => github.close(),
  };
}

/** A real zip of these files, made by the system's `zip` (installed with apt-get when missing and allowed). */
export async function zipOf(files: Record<string, string>): Promise<Buffer> {
  const zip = await ensureCommand({ command: 'zip', paths: ['/usr/bin/zip'], debianPackage: 'zip', purpose: 'the GitHub artifact tests (an Actions artifact is a zip)' });
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-zip-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await run(zip, ['-q', '-X', join(dir, 'out.zip'), ...Object.keys(files)], { cwd: dir });
    return await readFile(join(dir, 'out.zip'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
