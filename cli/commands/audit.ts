import type { AuditEntry } from '../../app/audit/audit-log.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseOptions } from './parse-options.js';

const USAGE = 'bitenvoy audit [--hub URL] [--token T] [--repository OWNER/NAME] [--limit N] [--format text|json|jsonl]';

/** `bitenvoy audit`: the hub's audit log — who did what to which environment and commit, and how it ended. */
export async function auditCommand(args: string[]): Promise<number> {
  const { values } = parseOptions(
    'audit',
    args,
    { hub: { type: 'string' }, token: { type: 'string' }, repository: { type: 'string' }, limit: { type: 'string' }, format: { type: 'string' } },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const format = values.format ?? 'text';
  if (!['text', 'json', 'jsonl'].includes(format)) throw new BitEnvoyError('BE_USAGE', `--format ${format}: expected text, json or jsonl`);
  const query = new URLSearchParams({ ...(values.repository ? { repository: values.repository } : {}), ...(values.limit ? { limit: values.limit } : {}) });
  const target = await resolveAdminTarget(values.hub, values.token);
  const { entries } = await adminRequest<{ entries: AuditEntry[] }>(target, 'GET', `/audit${query.size ? `?${query}` : ''}`);
  if (format === 'json') process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
  else if (format === 'jsonl') for (const e of entries) process.stdout.write(JSON.stringify(e) + '\n');
  else {
    if (entries.length === 0) process.stdout.write('the audit log is empty\n');
    for (const e of entries) {
      const what = [e.environment ?? (e.action === 'lock' || e.action === 'unlock' ? '(all environments)' : ''), e.sha?.slice(0, 7) ?? ''].filter(Boolean).join(' ');
      process.stdout.write(`${e.at}\t${e.actor}\t${e.action}\t${e.repository} ${what}\t${e.outcome}${e.forced ? ' (forced)' : ''}${e.detail ? `\t${e.detail}` : ''}\n`);
    }
  }
  return 0;
}
