import { BitEnvoyError } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';
import { parseDuration } from '../../lib/parse-duration.js';
import { createEnrollToken } from '../../app/enroll/create-enroll-token.js';
import { startHub } from '../../app/hub.js';
import { readHubSettings } from '../../app/hub-settings.js';
import { openStore } from '../../app/store/open-store.js';
import { firstOf, parseOptions } from './parse-options.js';

const HUB_USAGE = 'bitenvoy hub   |   bitenvoy hub token create [--ttl 1h] [--data-dir DIR]';

/** `bitenvoy hub` runs the hub until SIGTERM/SIGINT; `bitenvoy hub token create` mints an enrollment token. */
export async function hubCommand(args: string[]): Promise<number> {
  if (args[0] === 'token') return tokenCommand(args.slice(1));
  const { values } = parseOptions('hub', args, {}, HUB_USAGE);
  if (values.help) {
    process.stdout.write(`usage: ${HUB_USAGE}\nThe hub reads its settings from the environment; see the README.\n`);
    return 0;
  }
  const settings = readHubSettings(process.env);
  const log = createLogger({ name: 'bitenvoy-hub', level: settings.logLevel });
  const hub = await startHub(settings, { log });
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down: finishing requests, ending long polls');
      resolve();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  await hub.close();
  return 0;
}

async function tokenCommand(args: string[]): Promise<number> {
  const usage = 'bitenvoy hub token create [--ttl 1h] [--data-dir DIR]';
  if (args[0] !== 'create') throw new BitEnvoyError('BE_USAGE', `unknown \`hub token\` command \`${args[0] ?? ''}\`\nusage: ${usage}`);
  const { values } = parseOptions('hub token create', args.slice(1), { ttl: { type: 'string' }, 'data-dir': { type: 'string' } }, usage);
  if (values.help) {
    process.stdout.write(`usage: ${usage}\nPrints a one-time token an agent uses once with \`bitenvoy agent enroll\`.\n`);
    return 0;
  }
  const dataDir = firstOf(values['data-dir'], process.env.BITENVOY_DATA_DIR) ?? readHubSettings(process.env).dataDir;
  const ttlSeconds = Math.round(parseDuration(values.ttl ?? '1h') / 1000);
  const store = await openStore({ dataDir });
  try {
    const { token, expiresAt } = await createEnrollToken(store, { ttlSeconds, createdBy: 'cli' });
    process.stdout.write(`${token}\n`);
    process.stderr.write(`One-time enrollment token, valid until ${expiresAt}. On the server:\n  bitenvoy agent enroll --hub <hub URL> --token ${token} --dir <agent dir> --labels role=web\n`);
  } finally {
    await store.close();
  }
  return 0;
}
