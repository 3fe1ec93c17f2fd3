import type { Context, Next } from 'koa';
import { BitEnvoyError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { escapeHtml as e, page } from './html.js';

const TITLES: Record<number, string> = { 400: 'Bad request', 401: 'Not signed in', 403: 'Refused', 404: 'Not found', 409: 'Not possible now', 413: 'Too large', 429: 'Too many attempts', 503: 'Try again' };

/**
 * A person pressed a button, so a refusal is a page with the sentence and a way back, not the API's JSON. Unknown
 * errors go on to the hub's error middleware, which logs them and hides their internals.
 *
 * @example
 * router.post('/login', renderErrorsAsPages, signIn);
 */
export async function renderErrorsAsPages(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    if (!(err instanceof BitEnvoyError)) throw err;
    const id = (ctx.params as Record<string, string> | undefined)?.id;
    // A route may name the page a refusal leads back to (the deploy page does); else the deployment, or the overview.
    const named = ctx.state.errorBack as { href: string; label: string } | undefined;
    const back = named?.href ?? (id ? `/deployments/${encodeURIComponent(id)}` : '/');
    const label = named?.label ?? (id ? 'the deployment' : 'all deployments');
    const signIn = err.status === 401 ? `<p><a href="/login?next=${encodeURIComponent(back)}">Sign in</a></p>` : '';
    ctx.status = err.status;
    const retry = (err.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (typeof retry === 'number') ctx.set('retry-after', String(retry));
    ctx.type = 'html';
    ctx.body = page(TITLES[err.status] ?? 'Error', `<h1>${e(TITLES[err.status] ?? 'Error')}</h1><p class="error">${e(asSentence(err.message))}</p>${signIn}<p><a href="${e(back)}">Back to ${e(label)}</a></p>`);
    (ctx.state.log as Logger | undefined)?.info({ method: ctx.method, path: ctx.path, status: err.status, code: err.code }, err.message);
  }
}

function asSentence(message: string): string {
  const capitalised = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}
