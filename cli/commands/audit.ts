import type { AuditEntry } from '../../app/audit/audit-log.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { oneLine, toSafeJson } from '../../lib/strip-controls.js';
import { print, printJson } from '../output.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand } from './parse-options.js';

/** `bitenvoy audit`: the hub's audit log — who did what to which environment and commit, and how it ended. */
export async function auditCommand(args: string[]): Promise<number> {
  const { values } = parseCommand('audit', args);
  const format = values.format ?? 'text';
  if (!['text', 'json', 'jsonl'].includes(format)) throw new BitEnvoyError('BE_USAGE', `--format ${format}: expected text, json or jsonl`);
  const query = new URLSearchParams({ ...(values.repository ? { repository: values.repository } : {}), ...(values.limit ? { limit: values.limit } : {}) });
  const target = await resolveAdminTarget(values.hub, values.token);
  // The hub answers a page at a time (newest last, `older` for the page before): follow pages back until --limit
  // entries (every entry without it), then print them oldest first.
  const wanted = values.limit ? Number(values.limit) : Number.POSITIVE_INFINITY;
  const pages: AuditEntry[][] = [];
  let count = 0;
  for (let before: string | undefined; ; ) {
    const page = new URLSearchParams(query);
    if (before) page.set('before', before);
    if (Number.isFinite(wanted)) page.set('limit', String(Math.min(1000, wanted - count)));
    const answer = await adminRequest<{ entries: AuditEntry[]; older?: string }>(target, 'GET', `/audit${page.size ? `?${page}` : ''}`);
    pages.unshift(answer.entries);
    count += answer.entries.length;
    if (!answer.older || count >= wanted || answer.entries.length === 0) break;
    before = answer.older;
  }
  const entries = pages.flat();
  if (format === 'json') printJson(entries, 2);
  else if (format === 'jsonl') process.stdout.write(entries.map((e) => toSafeJson(e) + '\n').join(''));
  else {
    if (entries.length === 0) print('the audit log is empty');
    for (const e of entries) {
      const what = [e.environment ?? (e.action === 'lock' || e.action === 'unlock' ? '(all environments)' : ''), e.sha?.slice(0, 7) ?? ''].filter(Boolean).join(' ');
      const fields = [e.at, e.actor, e.action, `${e.repository} ${what}`, `${e.outcome}${e.forced ? ' (forced)' : ''}`, ...(e.detail ? [e.detail] : [])];
      print(fields.map((f) => oneLine(String(f))).join('\t'));
    }
  }
  return 0;
}
