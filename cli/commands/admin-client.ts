import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BitEnvoyError } from '../../lib/errors.js';
import { ADMIN_API_PREFIX } from '../../lib/protocol.js';
import { oneLine } from '../../lib/strip-controls.js';
import { firstOf } from './parse-options.js';

/** Where the CLI talks to the hub's admin API, and with which token. */
export interface AdminTarget {
  hub: string;
  token: string;
}

/**
 * Finds the hub URL (`--hub`, `BITENVOY_HUB_URL`, `BITENVOY_PUBLIC_URL`, else `http://localhost:$PORT`) and the admin
 * token (`--token`, `BITENVOY_ADMIN_TOKEN`, else `<BITENVOY_DATA_DIR>/admin-token` written by a hub on this machine).
 */
export async function resolveAdminTarget(hubFlag?: string, tokenFlag?: string): Promise<AdminTarget> {
  const env = process.env;
  const hub = firstOf(hubFlag, env.BITENVOY_HUB_URL, env.BITENVOY_PUBLIC_URL) ?? `http://localhost:${env.PORT ?? 3000}`;
  let token = firstOf(tokenFlag, env.BITENVOY_ADMIN_TOKEN);
  if (!token) {
    const file = join(env.BITENVOY_DATA_DIR ?? '.bitenvoy-data', 'admin-token');
    token = await readFile(file, 'utf8').then((t) => t.trim(), () => undefined);
    if (!token) {
      throw new BitEnvoyError('BE_USAGE', `no admin token: pass --token, set BITENVOY_ADMIN_TOKEN, or run on the hub's machine where ${file} exists`);
    }
  }
  return { hub: hub.replace(/\/+$/, ''), token };
}

/** True for the error {@link adminRequest} throws when nothing answers at the hub's address. */
export function isHubUnreachable(err: unknown): boolean {
  return err instanceof BitEnvoyError && err.details?.unreachable === true;
}

/** Calls the admin API; a hub error comes back as a BitEnvoyError with the hub's own message. */
export async function adminRequest<T>(target: AdminTarget, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.hub}${ADMIN_API_PREFIX}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new BitEnvoyError('BE_USAGE', `cannot reach the hub at ${target.hub}: ${(err as Error).cause ?? (err as Error).message}; check --hub or BITENVOY_HUB_URL`, {
      details: { unreachable: true },
    });
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new BitEnvoyError('BE_INTERNAL', `the hub at ${target.hub} answered ${res.status} with something that is not JSON; is that URL a BitEnvoy hub?`);
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    // The hub's words (and, through it, an agent's): kept on one line, without control characters.
    throw new BitEnvoyError('BE_DEPLOY_REJECTED', `hub answered ${res.status} ${oneLine(String(error?.code ?? ''))}: ${oneLine(String(error?.message ?? text))}`, { status: res.status });
  }
  return json as T;
}
