/**
 * `bitenvoy` on a Node older than it needs: it runs on the Node the package brought along (the pinned `node`
 * package), or — where that is missing — stops at once with a sentence saying which Node is needed and how to get it,
 * never a stack trace. Run with the machine's own old Node (Debian's `/usr/bin/node`, 20 here and on CI).
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot, version } from '../../lib/package-root.js';

const run = promisify(execFile);
const OLD_NODE = '/usr/bin/node';

async function oldNodeVersion(): Promise<string | undefined> {
  if (!existsSync(OLD_NODE)) return undefined;
  const v = (await run(OLD_NODE, ['-p', 'process.versions.node'])).stdout.trim();
  const [major = 0, minor = 0] = v.split('.').map(Number);
  return major < 22 || (major === 22 && minor < 13) ? v : undefined;
}

const old = await oldNodeVersion();
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe.skipIf(!old)(`bitenvoy on the machine's old Node (${old ?? `no Node older than 22.13 at ${OLD_NODE}`})`, () => {
  it('runs on the Node the package brought along', async () => {
    const { stdout } = await run(OLD_NODE, [join(packageRoot(), 'dist', 'cli', 'bitenvoy.js'), 'version']);
    expect(stdout).toBe(`${version}\n`);
    const help = await run(OLD_NODE, [join(packageRoot(), 'dist', 'cli', 'bitenvoy.js'), 'deploy', '--help']);
    expect(help.stdout).toContain('bitenvoy deploy');
  });

  it('says which Node it needs, without a stack trace, where no Node came with it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-old-node-'));
    dirs.push(dir);
    await cp(join(packageRoot(), 'dist'), join(dir, 'dist'), { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'bitenvoy', version, type: 'module' }));
    const err = await run(OLD_NODE, [join(dir, 'dist', 'cli', 'bitenvoy.js'), 'demo']).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string; stdout: string },
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toBe(
      `bitenvoy: this is Node ${old}; BitEnvoy needs Node 22.13 or newer (24 is the target). Install Node 24 (https://nodejs.org, or your package manager), or install BitEnvoy with npm without --omit=optional so it brings its own Node, then run it again.\n`,
    );
    expect(err?.stdout).toBe('');
  });
});
