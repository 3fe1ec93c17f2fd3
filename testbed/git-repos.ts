/**
 * Throw-away git repositories for the demo, tests and benchmarks: bare repositories that a
 * {@link startGitHttpServer} serves, and commits pushed into them through a scratch clone.
 *
 * @example
 * const shop = await createBareRepo(root, 'demo/shop', { 'bitenvoy.yml': '…' });
 * const sha2 = await pushCommit(shop, { 'VERSION': '2\n' }, 'bump');
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** File path → content; `null` deletes the file. */
export type FileChanges = Record<string, string | null>;

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'BitEnvoy Testbed',
  GIT_AUTHOR_EMAIL: 'testbed@bitenvoy.invalid',
  GIT_COMMITTER_NAME: 'BitEnvoy Testbed',
  GIT_COMMITTER_EMAIL: 'testbed@bitenvoy.invalid',
};

async function git(args: string[], cwd: string): Promise<string> {
  const { stdout } = await exec('git', args, { cwd, env: { ...process.env, ...GIT_IDENTITY }, maxBuffer: 64 << 20 });
  return stdout.trim();
}

/** Creates `<root>/<name>.git` (bare, default branch `main`) with one commit of `files`; returns its path. */
export async function createBareRepo(root: string, name: string, files: FileChanges): Promise<string> {
  const bare = join(root, `${name}.git`);
  await mkdir(dirname(bare), { recursive: true });
  await git(['init', '--quiet', '--bare', '--initial-branch=main', bare], root);
  // Agents fetch an exact commit by SHA, as they can from GitHub.
  await git(['config', 'uploadpack.allowReachableSHA1InWant', 'true'], bare);
  await pushCommit(bare, files, 'Initial commit');
  return bare;
}

/** Commits `changes` on top of `branch` of the bare repository and pushes; returns the new commit SHA. */
export async function pushCommit(bare: string, changes: FileChanges, message: string, branch = 'main'): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'bitenvoy-push-'));
  try {
    await git(['init', '--quiet', '--initial-branch', branch, work], work);
    const hasBranch = await git(['ls-remote', '--heads', bare, branch], work);
    if (hasBranch) {
      await git(['fetch', '--quiet', bare, branch], work);
      await git(['checkout', '--quiet', '-B', branch, 'FETCH_HEAD'], work);
    }
    await applyChanges(work, changes);
    await git(['add', '--all'], work);
    await git(['commit', '--quiet', '--allow-empty', '-m', message], work);
    await git(['push', '--quiet', bare, `HEAD:refs/heads/${branch}`], work);
    return await git(['rev-parse', 'HEAD'], work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function applyChanges(work: string, changes: FileChanges): Promise<void> {
  for (const [path, content] of Object.entries(changes)) {
    const target = join(work, path);
    if (content === null) {
      await rm(target, { force: true });
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

/** Every file under `dir` as a {@link FileChanges} map (for turning a template folder into a commit). */
export async function readTree(dir: string): Promise<FileChanges> {
  const files: FileChanges = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files[relative(dir, full)] = await readFile(full, 'utf8');
  }
  return files;
}

/** The SHA a branch of a bare repository points at. */
export async function headOf(bare: string, branch = 'main'): Promise<string> {
  return git(['rev-parse', `refs/heads/${branch}`], bare);
}

/** A commit of a bare repository: its message, author and commit date (what GitHub's commit API says of it). */
export async function commitOf(bare: string, sha: string): Promise<{ message: string; author: { name: string; email: string; date: string }; date: string }> {
  const [name, email, authored, date, message] = (await git(['log', '-1', '--format=%an%x00%ae%x00%aI%x00%cI%x00%B', sha, '--'], bare)).split('\0');
  return { message: message ?? '', author: { name: name ?? '', email: email ?? '', date: authored ?? '' }, date: date ?? '' };
}

/** The SHAs of `ref`'s history, newest first: `count` of them after skipping `skip` (GitHub's list of commits). */
export async function historyOf(bare: string, ref: string, skip: number, count: number): Promise<string[]> {
  const out = await git(['rev-list', `--skip=${skip}`, `--max-count=${count}`, ref, '--'], bare);
  return out ? out.split('\n') : [];
}

/** A file of a commit of a bare repository, or undefined when the commit has no such file (GitHub's contents API). */
export async function fileAt(bare: string, sha: string, path: string): Promise<Buffer | undefined> {
  if (!/^[0-9a-f]{40}$/.test(sha) || path.startsWith('-')) return undefined;
  return new Promise((resolve) => {
    execFile('git', ['--git-dir', bare, 'show', `${sha}:${path}`], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}
