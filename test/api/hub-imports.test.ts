/**
 * What an idle hub loads: the cloud providers' SDKs only when cloud identity is configured (the EC2 client alone is
 * ~90 MB of RSS, a third of the fleet's memory budget). Checked on the built hub (`npm run build`), in a process of
 * its own, with a module hook that records every package resolved.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { packageRoot } from '../../lib/package-root.js';

const SCRIPT = `
const { registerHooks } = require('node:module');
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    if (/^@aws-sdk\\//.test(specifier)) seen.add(specifier);
    return next(specifier, context);
  },
});
import(process.argv[1]).then(() => process.stdout.write(JSON.stringify([...seen])));
`;

it('loads no cloud SDK when cloud identity is not configured', () => {
  const hub = pathToFileURL(join(packageRoot(), 'dist', 'app', 'hub.js')).href;
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', SCRIPT, hub], { encoding: 'utf8' })) as string[];
  expect(loaded).toEqual([]);
  // The hook does see them when they are loaded: the cloud service module does load the EC2 client.
  const cloud = pathToFileURL(join(packageRoot(), 'dist', 'app', 'cloud', 'cloud-service.js')).href;
  expect(JSON.parse(execFileSync(process.execPath, ['-e', SCRIPT, cloud], { encoding: 'utf8' }))).toContain('@aws-sdk/client-ec2');
});
