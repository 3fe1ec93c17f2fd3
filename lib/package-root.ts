import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import packageJson from '../package.json' with { type: 'json' };

/**
 * The folder holding BitEnvoy's package.json, found from this module's own location so it works from the sources
 * (vitest), from `dist/` and from an installed package alike.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'templates'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the BitEnvoy package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** BitEnvoy's own version, from package.json. */
export const version: string = packageJson.version;
