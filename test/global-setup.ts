/**
 * Once per test run: the `openssl` command the cloud attestation tests (and the hub's Azure verifier) use, found or
 * installed with apt-get on a fresh Debian machine — `npm install && npm test` needs nothing else installed by hand.
 */
import { ensureCommand } from '../testbed/ensure-command.js';

export default async function setup(): Promise<void> {
  await ensureCommand({ command: 'openssl', debianPackage: 'openssl', purpose: 'the cloud attestation tests' });
}
