/**
 * The agent never depends on the hub: no file under agent/ imports anything under app/ (statically, as a type, or
 * dynamically). What both sides share is the wire contract in lib/protocol.ts — the cloud evidence types live there
 * for that reason. Found the hard way: agent/cloud-evidence.ts once imported its types from app/cloud.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { expect, it } from 'vitest';
import { packageRoot } from '../../lib/package-root.js';

/** `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`, comments and strings aside. */
const SPECIFIERS = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

async function importsOf(file: string): Promise<string[]> {
  const text = (await readFile(file, 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...text.matchAll(SPECIFIERS)].map((m) => (m[1] ?? m[2])!);
}

it('no file under agent/ imports from app/', async () => {
  const root = packageRoot();
  const app = join(root, 'app') + sep;
  const entries = await readdir(join(root, 'agent'), { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name)).map((e) => join(e.parentPath, e.name));
  expect(files.length).toBeGreaterThan(10);
  const offending: string[] = [];
  for (const file of files) {
    for (const specifier of await importsOf(file)) {
      if (specifier.startsWith('.') && resolve(dirname(file), specifier).startsWith(app)) offending.push(`${relative(root, file)} imports ${specifier}`);
    }
  }
  expect(offending).toEqual([]);
});

it('the import scan sees every form of import (else the test above could pass by not looking)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bitenvoy-imports-'));
  try {
    const file = join(dir, 'sample.ts');
    await writeFile(
      file,
      [
        "import type { A } from '../app/a.js';",
        "import { B,\n  C } from '../app/b.js';",
        "export { D } from '../app/d.js';",
        "import '../app/side-effect.js';",
        "const e = await import('../app/e.js');",
        "// import { F } from '../app/commented.js';",
        "const text = 'not an import from ../app/x.js';",
      ].join('\n'),
    );
    expect(await importsOf(file)).toEqual(['../app/a.js', '../app/b.js', '../app/d.js', '../app/side-effect.js', '../app/e.js']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
