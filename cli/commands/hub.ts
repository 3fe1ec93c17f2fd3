import { join } from 'node:path';
import { createLogger } from '../../lib/logger.js';
import { startHub } from '../../app/hub.js';
import { readHubSettings } from '../../app/hub-settings.js';
import { parseCommand } from './parse-options.js';

/** `bitenvoy hub` runs the hub until SIGTERM/SIGINT; `bitenvoy hub token create` mints an enrollment token. */
export async function hubCommand(args: string[]): Promise<number> {
  if (args[0] === 'token') return (await import('./hub-token.js')).hubTokenCommand(args.slice(1));
  if (args[0] === 'user') return (await import('./hub-user.js')).hubUserCommand(args.slice(1));
  parseCommand('hub', args);
  const settings = readHubSettings(process.env);
  const log = createLogger({ name: 'bitenvoy-hub', level: settings.logLevel });
  const hub = await startHub(settings, { log });
  // A new operator's first question: with which token do I sign in, deploy, mint agent tokens? (Never the token itself.)
  const pages = process.env.BITENVOY_PUBLIC_URL ? settings.publicUrl : hub.url;
  const where = process.env.BITENVOY_ADMIN_TOKEN
    ? 'is BITENVOY_ADMIN_TOKEN, as set in the environment'
    : `is in the file ${join(settings.dataDir, 'admin-token')} (the CLI reads it there with BITENVOY_DATA_DIR=${settings.dataDir})`;
  log.info(`the admin token ${where}. Sign in with it at ${pages}/login; \`bitenvoy hub token create\` mints agent enrollment tokens with it`);
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
