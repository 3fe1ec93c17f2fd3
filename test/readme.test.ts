import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { CLOUD_VARIABLES } from '../app/cloud/cloud-settings.js';
import { HUB_VARIABLES } from '../app/hub-settings.js';
import { packageRoot } from '../lib/package-root.js';

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(packageRoot(), dir), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

it('the README documents every BITENVOY_* variable the code reads, and every hub setting', async () => {
  const readme = await readFile(join(packageRoot(), 'README.md'), 'utf8');
  const used = new Set<string>();
  for (const dir of ['app', 'agent', 'cli', 'lib', 'testbed', 'packaging']) {
    for (const file of await sources(dir)) for (const m of (await readFile(file, 'utf8')).matchAll(/BITENVOY_[A-Z_]+[A-Z]/g)) used.add(m[0]);
  }
  // Variables the agent sets for steps, not settings: documented with the instruction file.
  const forSteps = ['BITENVOY_JOB_ID', 'BITENVOY_DEPLOYMENT_ID', 'BITENVOY_REPOSITORY', 'BITENVOY_ENVIRONMENT', 'BITENVOY_SHA', 'BITENVOY_REF', 'BITENVOY_RELEASE_DIR', 'BITENVOY_CURRENT_DIR', 'BITENVOY_SECRET'];
  const missing = [...used].filter((v) => !readme.includes(`\`${v}\``) && !forSteps.some((s) => v.startsWith(s)));
  expect(missing).toEqual([]);
  for (const [name] of HUB_VARIABLES) expect(readme).toContain(`\`${name}\``);
  for (const [name, what] of CLOUD_VARIABLES) expect(readme).toContain(`| \`${name}\` | ${what} |`);
});
