import type { Context } from 'koa';
import { withoutCredentials } from '../../lib/redact-url.js';

/**
 * Escapes text for HTML element content and attribute values; every user-controlled string goes through it. Pages
 * are public, so any credentials in a URL in the text are taken out here too.
 */
export function escapeHtml(value: unknown): string {
  return withoutCredentials(String(value ?? '')).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The shared page frame: a readable, dependency-free layout. `refresh` reloads while something is in progress, at
 * `refreshTo` when given (so a one-time message in the query does not stay on screen).
 */
export function page(title: string, body: string, refreshSeconds?: number, refreshTo?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${refreshSeconds !== undefined ? `<meta http-equiv="refresh" content="${refreshSeconds}${refreshTo ? `; url=${escapeHtml(refreshTo)}` : ''}">` : ''}
<title>${escapeHtml(title)} · BitEnvoy</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2430}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#0f1720;color:#dce3ea;padding:.6rem;overflow:auto;max-height:24rem;margin:.3rem 0}
.state{font-weight:600}.success,.succeeded{color:#137333}.failure,.failed,.error,.refused,.cancelled{color:#b3261e}
.in_progress,.running,.fetching,.claimed{color:#8a5a00}.queued,.pending{color:#555}
a{color:#0b57d0}
.actions{display:flex;gap:.6rem;align-items:center;flex-wrap:wrap;margin:1rem 0}.actions form{margin:0}
button{font:inherit;padding:.35rem .9rem;border:1px solid #0b57d0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}
a.button{display:inline-block;padding:.35rem .9rem;border-radius:4px;background:#1d2430;color:#fff;text-decoration:none}
button.danger{background:#fff;color:#b3261e;border-color:#b3261e}button.quiet{background:none;border:none;color:#0b57d0;padding:0;text-decoration:underline}
.flash{background:#e6f4ea;border-left:4px solid #137333;padding:.5rem .8rem}.error{background:#fce8e6;border-left:4px solid #b3261e;padding:.5rem .8rem}
.paused{background:#fef7e0;border-left:4px solid #8a5a00;padding:.5rem .8rem}
input[type=password]{font:inherit;padding:.3rem;width:min(32rem,100%)}
</style></head><body>
<p><a href="/">BitEnvoy</a></p>
${body}
</body></html>`;
}

/**
 * For pages that carry a session's CSRF token or its buttons: never cached (a shared cache must not hand one person's
 * token to another) and never shown in another site's frame (where a click could be stolen).
 */
export function setPrivatePageHeaders(ctx: Context): void {
  ctx.set('cache-control', 'no-store');
  ctx.set('x-frame-options', 'DENY');
  ctx.set('content-security-policy', "frame-ancestors 'none'");
}
