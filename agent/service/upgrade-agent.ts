/**
 * `bitenvoy agent upgrade`: the server's owner replaces the agent executable with a release (the hub never pushes
 * one). Nothing changes until the download matches its SHA-256 and answers `--version`; after the swap the service is
 * restarted and must prove it started (its start marker names the new version); otherwise the previous executable is
 * put back and started again.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { downloadRelease, expectedSha256, readSums, releaseFileName } from './release-files.js';
import type { ServiceControl } from './service-plan.js';
import { readStartMarker } from './start-marker.js';
import { restorePrevious, swapExecutable } from './swap-executable.js';

export interface UpgradeOptions {
  /** The release: http(s):// or file:// URL, or a folder. */
  from: string;
  /** The agent executable to replace (the running program's `process.execPath`). */
  executable: string;
  /** The agent directory, where the service's agent writes its start marker. */
  dir: string;
  control: ServiceControl;
  /** How long the new agent has to start. */
  deadlineMs: number;
  /** How long it must keep running once started (default 2 s). */
  settleMs?: number;
  platform?: NodeJS.Platform;
  arch?: string;
  /** Progress lines for the owner. */
  say?: (line: string) => void;
}

export interface UpgradeResult {
  from: string;
  to: string;
}

/**
 * Upgrades the agent executable and restarts the service; throws BE_SERVICE (nothing changed, or rolled back) when
 * it cannot.
 *
 * @example
 * await upgradeAgent({ from: 'https://example.com/v0.2.0', executable: process.execPath, dir, control: systemdControl, deadlineMs: 60_000 });
 */
export async function upgradeAgent(options: UpgradeOptions): Promise<UpgradeResult> {
  const platform = options.platform ?? process.platform;
  const say = options.say ?? (() => undefined);
  const file = releaseFileName(platform, options.arch ?? process.arch);
  const sums = await readSums(options.from);
  const expected = expectedSha256(sums.text, file, sums.where);
  const fresh = `${options.executable}.new`;
  const actual = await downloadRelease(options.from, file, fresh).catch(async (err: unknown) => {
    await rm(fresh, { force: true });
    throw err;
  });
  if (actual !== expected) {
    await rm(fresh, { force: true });
    throw new BitEnvoyError('BE_SERVICE', `${file} does not match its SHA-256 in ${sums.where} (expected ${expected}, got ${actual}): refused, nothing was changed; the download was damaged or the release tampered with`);
  }
  const to = await versionOf(fresh).catch(async (err: unknown) => {
    await rm(fresh, { force: true });
    throw new BitEnvoyError('BE_SERVICE', `the downloaded ${file} does not run here (\`${basename(fresh)} --version\`: ${(err as Error).message}): refused, nothing was changed`);
  });
  const from = await versionOf(options.executable).catch(() => 'unknown');
  say(`${file} ${to}: SHA-256 matches ${sums.where}; replacing ${options.executable} (${from})`);
  await swapExecutable(options.executable, fresh, platform);
  const startedAfter = Date.now();
  await options.control.restart();
  if (await startedAs(to, startedAfter, options)) return { from, to };

  say(`the new agent ${to} did not start within ${Math.round(options.deadlineMs / 1000)} s: putting ${from} back`);
  await restorePrevious(options.executable, platform);
  const back = Date.now();
  await options.control.restart();
  const recovered = await startedAs(from, back, options);
  throw new BitEnvoyError(
    'BE_SERVICE',
    `the new agent ${to} did not start within ${Math.round(options.deadlineMs / 1000)} s (see the service's log); rolled back to ${from}, ` +
      (recovered ? 'which runs again' : `which has not started either: check the service (${options.control.describe}) and ${options.dir}/agent.started`),
  );
}

/** Waits until the service runs and its start marker, written since `after`, names `version`, and it stays up. */
async function startedAs(version: string, after: number, options: UpgradeOptions): Promise<boolean> {
  const until = Date.now() + options.deadlineMs;
  while (Date.now() < until) {
    const marker = await readStartMarker(options.dir);
    if (marker && marker.version === version && Date.parse(marker.startedAt) >= after && (await options.control.isRunning())) {
      await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 2000));
      if (await options.control.isRunning()) return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/** `<exe> --version`: must exit 0 within 30 s and print a version like `0.2.0`. */
function versionOf(executable: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(executable, ['--version'], { timeout: 30_000, maxBuffer: 64 * 1024, windowsHide: true }, (err, stdout) => {
      if (err) return reject(new Error(err.code === 'ENOENT' ? 'not found' : `exit ${String(err.code ?? err.signal)}`));
      const printed = String(stdout).trim();
      if (!/^v?\d+\.\d+\.\d+[\w.+-]*$/.test(printed)) return reject(new Error(`printed ${JSON.stringify(printed.slice(0, 80))}, not a version`));
      resolve(printed.replace(/^v/, ''));
    });
  });
}
