import type { Context } from 'koa';
import { withoutCredentials } from '../../lib/redact-url.js';

/**
 * Escapes text for HTML element content and attribute values; every user-controlled string goes through it. Pages
 * are public, so any credentials in a URL in the text are taken out here too.
 */
export function escapeHtml(value: unknown): string {
  return withoutCredentials(String(value ?? '')).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Where a page sits in the nav bar, and who is signed in (their sign-out form carries the session's CSRF token). */
export interface Frame {
  section?: 'environments' | 'deployments' | 'agents';
  /** Signed in: their name and CSRF token; `null`: not signed in (a sign-in link); absent: nothing said. */
  signedIn?: { who: string; csrfToken: string } | null;
}

const NAV: Array<[NonNullable<Frame['section']>, string, string]> = [
  ['environments', '/', 'Environments'],
  ['deployments', '/deployments', 'Deployments'],
  ['agents', '/agents', 'Agents'],
];

/**
 * The shared page frame: a nav bar (Environments, Deployments, Agents, sign-in state), a skip link, light and dark
 * colours (prefers-color-scheme, contrast ≥ 4.5:1 for text), tables that scroll sideways on a phone, and a visible
 * focus ring. `refresh` reloads while something is in progress, at `refreshTo` when given (so a one-time message in
 * the query does not stay on screen).
 *
 * @example
 * ctx.body = page('Environments', html`<h1>Environments</h1>…`.toString(), undefined, undefined, { section: 'environments', signedIn: null });
 */
export function page(title: string, body: string, refreshSeconds?: number, refreshTo?: string, frame: Frame = {}): string {
  const nav = NAV.map(([section, href, label]) => `<li><a href="${href}"${frame.section === section ? ' aria-current="page"' : ''}>${label}</a></li>`).join('');
  const who =
    frame.signedIn === undefined
      ? ''
      : frame.signedIn === null
        ? '<li class="who"><a href="/login">Sign in</a></li>'
        : `<li class="who">${escapeHtml(frame.signedIn.who)} <form method="post" action="/logout"><input type="hidden" name="csrf" value="${escapeHtml(frame.signedIn.csrfToken)}"><button type="submit" class="quiet">Sign out</button></form></li>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
${refreshSeconds !== undefined ? `<meta http-equiv="refresh" content="${refreshSeconds}${refreshTo ? `; url=${escapeHtml(refreshTo)}` : ''}">` : ''}
<title>${escapeHtml(title)} · BitEnvoy</title>
<style>
:root{--fg:#1d2430;--bg:#fff;--muted:#555d68;--line:#d5d9de;--link:#0b57d0;--ok:#137333;--bad:#b3261e;--warn:#8a5a00;--focus:#0b57d0;
--ok-bg:#e6f4ea;--bad-bg:#fce8e6;--warn-bg:#fef7e0;--nav:#f1f3f5;--code:#f1f3f5}
@media (prefers-color-scheme:dark){:root{--fg:#e3e7ec;--bg:#14181d;--muted:#a9b1bb;--line:#353c45;--link:#8ab4f8;--ok:#81c995;--bad:#f28b82;
--warn:#fdd663;--focus:#8ab4f8;--ok-bg:#1e3326;--bad-bg:#3c1f1d;--warn-bg:#3a3118;--nav:#1e242b;--code:#1e242b}}
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
main{margin:1.5rem auto;max-width:72rem;padding:0 1rem}
.skip{position:absolute;left:-999px;top:.5rem;background:var(--bg);padding:.4rem .8rem;z-index:1}.skip:focus{left:.5rem}
nav.top{background:var(--nav);border-bottom:1px solid var(--line)}
nav.top ul{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;align-items:center;list-style:none;margin:0 auto;max-width:72rem;padding:.6rem 1rem}
nav.top .brand{font-weight:700;margin-right:.6rem}nav.top a{text-decoration:none}nav.top a[aria-current=page]{text-decoration:underline;font-weight:600}
nav.top .who{margin-left:auto;display:flex;gap:.6rem;align-items:center}nav.top form{margin:0}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}td{overflow-wrap:anywhere}
@media (max-width:46rem){main{margin-top:1rem}table{display:block;overflow-x:auto;white-space:nowrap}}
code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#0f1720;color:#dce3ea;padding:.6rem;overflow:auto;max-height:24rem;margin:.3rem 0}
small,.muted{color:var(--muted)}
.state{font-weight:600}.success,.succeeded{color:var(--ok)}.failure,.failed,.error,.refused,.cancelled{color:var(--bad)}
.in_progress,.running,.fetching,.claimed{color:var(--warn)}.queued,.pending{color:var(--muted)}
a{color:var(--link)}
.actions{display:flex;gap:.6rem;align-items:center;flex-wrap:wrap;margin:1rem 0}.actions form{margin:0}
button{font:inherit;padding:.35rem .9rem;border:1px solid #0b57d0;border-radius:4px;background:#0b57d0;color:#fff;cursor:pointer}
a.button{display:inline-block;padding:.35rem .9rem;border-radius:4px;background:#0b57d0;color:#fff;text-decoration:none}
button.danger{background:var(--bg);color:var(--bad);border-color:var(--bad)}button.quiet{background:none;border:none;color:var(--link);padding:0;text-decoration:underline}
.flash{background:var(--ok-bg);border-left:4px solid var(--ok);padding:.5rem .8rem}.error{background:var(--bad-bg);border-left:4px solid var(--bad);padding:.5rem .8rem}
.paused{background:var(--warn-bg);border-left:4px solid var(--warn);padding:.5rem .8rem}
input,select{font:inherit;padding:.3rem;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:4px}
input[type=password]{width:min(32rem,100%)}
</style></head><body>
<a class="skip" href="#main">Skip to content</a>
<nav class="top" aria-label="BitEnvoy"><ul><li class="brand"><a href="/">BitEnvoy</a></li>${nav}${who}</ul></nav>
<main id="main">
${body}
</main>
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
