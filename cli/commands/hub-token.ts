import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { parseDuration } from '../../lib/parse-duration.js';
import { oneLine } from '../../lib/strip-controls.js';
import { print, printError } from '../output.js';
import { adminRequest, isHubUnreachable, resolveAdminTarget, type AdminTarget } from './admin-client.js';
import { parseCommand } from './parse-options.js';
import type { DatabaseSettings } from '../../app/store/sql/pg-connection.js';

const MIN_TTL_SECONDS = 60;
const MAX_TTL_SECONDS = 30 * 86_400;

/**
 * `bitenvoy hub token create`: a one-time enrollment token from the hub that is running — through its admin API,
 * so it is one that hub accepts. `--data-dir DIR` writes into the store in DIR instead; when no hub answers, the
 * store in `$BITENVOY_DATA_DIR` is used. A store is never created: a token in a store no hub reads enrolls nothing.
 */
export async function hubTokenCommand(args: string[]): Promise<number> {
  if (args[0] !== 'create') {
    throw new BitEnvoyError('BE_USAGE', `unknown \`hub token\` command \`${args[0] ?? ''}\`; the one there is: create\nRun \`bitenvoy hub token --help\`.`);
  }
  const { values } = parseCommand('hub token create', args.slice(1));
  const ttlSeconds = Math.round(parseDuration(values.ttl ?? '1h', '--ttl') / 1000);
  if (ttlSeconds < MIN_TTL_SECONDS || ttlSeconds > MAX_TTL_SECONDS) {
    throw new BitEnvoyError('BE_USAGE', `--ttl ${values.ttl}: expected from 1m to 720h`);
  }
  if (values['data-dir']) return mintIntoStore(resolve(values['data-dir']), ttlSeconds, '--data-dir');

  let target: AdminTarget | undefined;
  let why = '';
  try {
    target = await resolveAdminTarget(values.hub, values.token);
  } catch (err) {
    if (!(err instanceof BitEnvoyError) || err.code !== 'BE_USAGE') throw err;
    // No admin token anywhere: only the hub's own store, on the hub's own machine, can still mint.
    why = err.message;
  }
  if (target) {
    try {
      const { token, expiresAt } = await adminRequest<{ token: string; expiresAt: string }>(target, 'POST', '/enrollment-tokens', { ttlSeconds });
      return printToken(token, expiresAt, target.hub);
    } catch (err) {
      // A hub that answers and refuses (a wrong admin token) is an error to show, never a reason to go around it.
      if (!isHubUnreachable(err)) throw err;
      why = `no hub answers at ${target.hub}`;
    }
  }
  const dataDir = resolve(process.env.BITENVOY_DATA_DIR || '.bitenvoy-data');
  // A hub on PostgreSQL keeps its store there (its replicas share it): the token goes where every replica reads it.
  const { databaseFrom } = await import('../../app/hub-settings.js');
  const database = databaseFrom(process.env);
  if (database) {
    printError(`${why}; writing the token into the hub store on PostgreSQL (BITENVOY_DATABASE_URL), which every hub replica reads`);
    return mintIntoStore(dataDir, ttlSeconds, 'BITENVOY_DATABASE_URL', database);
  }
  if (existsSync(join(dataDir, 'hub.sqlite'))) {
    printError(`${why}; writing the token into the hub store in ${dataDir} (a hub started on that folder accepts it)`);
    return mintIntoStore(dataDir, ttlSeconds, 'BITENVOY_DATA_DIR');
  }
  throw new BitEnvoyError(
    'BE_USAGE',
    `cannot mint an enrollment token: ${why}, and ${dataDir} holds no hub store (hub.sqlite). Start the hub first ` +
      '(`bitenvoy hub`), or point at the running one: --hub URL --token ADMIN_TOKEN (or BITENVOY_HUB_URL and ' +
      "BITENVOY_ADMIN_TOKEN); on the hub's machine, BITENVOY_DATA_DIR set to the hub's data folder is enough.",
  );
}

async function mintIntoStore(dataDir: string, ttlSeconds: number, source: string, database?: DatabaseSettings): Promise<number> {
  // Opening a store creates it: check first, so a wrong folder is an error and not a second, silent store.
  if (!database && !existsSync(join(dataDir, 'hub.sqlite'))) {
    throw new BitEnvoyError(
      'BE_USAGE',
      `${source} ${dataDir}: no hub store there (hub.sqlite); give the folder the hub runs with (its BITENVOY_DATA_DIR), ` +
        'or leave --data-dir out to ask the running hub (--hub URL --token ADMIN_TOKEN)',
    );
  }
  // Loaded here only: a token minted through the API needs none of the hub's modules.
  const { openStore } = await import('../../app/store/open-store.js');
  const { createEnrollToken } = await import('../../app/enroll/create-enroll-token.js');
  const store = await openStore({ dataDir, ...(database ? { database } : {}) });
  try {
    const { token, expiresAt } = await createEnrollToken(store, { ttlSeconds, createdBy: 'cli' });
    return printToken(token, expiresAt, process.env.BITENVOY_PUBLIC_URL || '<hub URL>');
  } finally {
    await store.close();
  }
}

function printToken(token: string, expiresAt: string, hub: string): number {
  // From the hub when minted through it: one line, whatever it sent.
  token = oneLine(String(token));
  expiresAt = oneLine(String(expiresAt));
  print(token);
  printError(`One-time enrollment token, valid until ${expiresAt}. On the server:\n  bitenvoy agent enroll --hub ${hub} --token ${token} --dir /var/lib/bitenvoy-agent --labels role=web`);
  return 0;
}
