/** Escapes text for HTML element content and attribute values. Every user-controlled string goes through it. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The shared page frame: a readable, dependency-free layout. `refresh` reloads while something is in progress. */
export function page(title: string, body: string, refreshSeconds?: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : ''}
<title>${escapeHtml(title)} · BitEnvoy</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2430}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#0f1720;color:#dce3ea;padding:.6rem;overflow:auto;max-height:24rem;margin:.3rem 0}
.state{font-weight:600}.success,.succeeded{color:#137333}.failure,.failed,.error,.refused,.cancelled{color:#b3261e}
.in_progress,.running,.fetching,.claimed{color:#8a5a00}.queued,.pending{color:#555}
a{color:#0b57d0}
</style></head><body>
<p><a href="/">BitEnvoy</a></p>
${body}
</body></html>`;
}
