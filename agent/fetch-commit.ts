/**
 * Fetches exactly one commit into a per-repository bare mirror, and checks it out into a release directory. The
 * mirror persists, and each fetched commit is kept under a ref, so the next fetch of the repository negotiates and
 * transfers only new objects.
 *
 * @example
 * const mirror = await fetchCommit({ agentDir, repository: 'acme/shop', url, sha, ref: 'main', log: line => … });
 * await checkoutRelease(mirror, sha, releaseDir);
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { basicAuthEnv, gitWithEnv, git as simpleGit } from '../lib/git.js';
import type { GitAuth } from '../lib/protocol.js';
import { BitEnvoyError } from '../lib/errors.js';
import { withoutCredentials } from '../lib/redact-url.js';


/** `<agentDir>/git/<owner>/<name>.git`: one bare mirror per repository, kept across deployments. */
export function mirrorPath(agentDir: string, repository: string): string {
  return join(agentDir, 'git', `${repository}.git`);
}

/**
 * Makes sure the mirror holds `sha` (fetching it by SHA, or by `ref` when the server refuses SHA wants) and keeps it
 * under `refs/bitenvoy/jobs/<jobId>`; returns the mirror's path. Progress goes to `log` as whole lines.
 */
export async function fetchCommit(options: { agentDir: string; repository: string; url: string; auth?: GitAuth; sha: string; ref: string; jobId: string; log: (line: string) => void }): Promise<string> {
  const mirror = await openMirror(options.agentDir, options.repository);
  const git = simpleGit(mirror);
  // Credentials travel as an HTTP header set through the environment: never on a command line, never in a URL.
  const authEnv = options.auth ? basicAuthEnv(options.auth.username, options.auth.password) : {};
  // `--`: whatever the hub sent, git never takes the URL or the SHA for an option (`--upload-pack=…` runs a command).
  const fetch = (args: string[]) => gitWithEnv(['fetch', '--no-tags', '--no-write-fetch-head', '--', options.url, ...args], mirror, authEnv);
  const has = () => git.raw(['cat-file', '-e', `${options.sha}^{commit}`]).then(() => true, () => false);
  if (await has()) {
    options.log(`commit ${options.sha.slice(0, 7)} is already here; nothing to fetch\n`);
  } else {
    options.log(`fetching ${options.sha.slice(0, 7)} from ${withoutCredentials(options.url)}\n`);
    const started = Date.now();
    const before = await packedKiB(mirror);
    try {
      await fetch([options.sha]);
    } catch (bySha) {
      // Some servers refuse to serve a commit by SHA: fetch the ref, then the SHA must be among what came.
      options.log(`the server would not send the commit by SHA (${firstLine(bySha)}); fetching ${options.ref} instead\n`);
      try {
        await fetch([`+${options.ref}:refs/bitenvoy/fetched`]);
      } catch (byRef) {
        throw new BitEnvoyError('BE_GIT', `cannot fetch ${options.repository} from ${options.url}: ${firstLine(byRef)}`, { cause: byRef });
      }
    }
    if (!(await has())) {
      throw new BitEnvoyError('BE_GIT', `commit ${options.sha} is not in ${options.url} (fetched ${options.ref}); was the branch force-pushed?`);
    }
    const fetched = (await packedKiB(mirror)) - before;
    options.log(`fetched ${fetched} KiB of new objects in ${Date.now() - started} ms (the mirror keeps what earlier deployments fetched)\n`);
  }
  await keepJobCommit(mirror, options.jobId, options.sha);
  return mirror;
}

/** The repository's bare mirror, created on first use; returns its path. */
export async function openMirror(agentDir: string, repository: string): Promise<string> {
  const mirror = mirrorPath(agentDir, repository);
  if (!existsSync(join(mirror, 'HEAD'))) {
    await mkdir(mirror, { recursive: true });
    await simpleGit(mirror).init(true);
  }
  if (!existsSync(join(mirror, 'info', 'attributes'))) {
    // A release holds exactly the commit's files: `git archive` must not drop `export-ignore` paths or rewrite
    // `export-subst` ones. info/attributes overrides what the commit's .gitattributes says.
    await mkdir(join(mirror, 'info'), { recursive: true });
    await writeFile(join(mirror, 'info', 'attributes'), '* -export-ignore -export-subst\n');
  }
  return mirror;
}

/** Keeps a job's commit reachable under `refs/bitenvoy/jobs/<jobId>`: safe from gc, and the next fetch skips it. */
export async function keepJobCommit(mirror: string, jobId: string, sha: string): Promise<void> {
  await simpleGit(mirror).raw(['update-ref', `refs/bitenvoy/jobs/${jobId}`, sha]);
}

/** Writes the commit's files (exactly those) into `releaseDir` with `git archive | tar -x`. */
export async function checkoutRelease(mirror: string, sha: string, releaseDir: string): Promise<void> {
  await mkdir(releaseDir, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const archive = spawn('git', ['--git-dir', mirror, 'archive', '--format=tar', sha], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-C', releaseDir], { stdio: ['pipe', 'ignore', 'pipe'] });
    archive.stdout.pipe(tar.stdin);
    let stderr = '';
    archive.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let pending = 2;
    let failed = false;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0 && !failed) {
        failed = true;
        reject(new BitEnvoyError('BE_GIT', `checking out ${sha.slice(0, 7)} failed (${what} exited ${code}): ${stderr.trim()}`));
      }
      if (--pending === 0 && !failed) resolve();
    };
    archive.on('close', done('git archive'));
    tar.on('close', done('tar'));
  });
}

/** Drops the refs of releases that no longer exist, so their objects may be collected. */
export async function forgetRelease(mirror: string, jobId: string): Promise<void> {
  await simpleGit(mirror).raw(['update-ref', '-d', `refs/bitenvoy/jobs/${jobId}`]).catch(() => undefined);
}

/** Size of the mirror's objects (packs and loose), in KiB, as `git count-objects` tells. */
async function packedKiB(mirror: string): Promise<number> {
  const out = await simpleGit(mirror).raw(['count-objects', '-v']).catch(() => '');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(out)?.[1] ?? 0);
  return field('size') + field('size-pack');
}

/** The first line of a git error: what git said went wrong, without its hints. */
export function firstLine(err: unknown): string {
  return (String((err as Error).message).split('\n').find((l) => l.trim()) ?? 'unknown error').trim();
}
