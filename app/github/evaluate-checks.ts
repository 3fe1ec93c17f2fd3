/**
 * Decides whether a commit's checks allow an automatic deployment: every required check (or, with `all`, every check
 * run and status on the commit) must have passed. Any failure blocks at once; anything missing or running waits.
 */
import { truncate } from '../rollout/describe-deployment.js';
import type { CommitCheck } from './list-commit-checks.js';

export interface ChecksVerdict {
  verdict: 'green' | 'pending' | 'red';
  passed: string[];
  pending: string[];
  /** Required names nothing has reported under yet. */
  missing: string[];
  failed: Array<{ name: string; conclusion: string }>;
  /** One sentence for people, at most 140 characters (a GitHub deployment status description). */
  description: string;
}

export interface EvaluateChecksOptions {
  /** Names `all` does not wait for, e.g. the hub's own "BitEnvoy config" check. A name listed in `required` still counts. */
  ignore?: string[];
  /** Set when the listing was cut short (see `listCommitChecks`): what was not read. The verdict is then never green. */
  incomplete?: string;
}

/** GitHub's limit for a deployment status description. */
const MAX_DESCRIPTION = 140;
const SEVERITY = { success: 0, pending: 1, failure: 2 } as const;

/**
 * The verdict on a commit's checks: `red` when any counted check failed (whatever else is still running), `pending`
 * while one is running or has not reported, `green` when all passed. `all` with nothing reported is `pending`: no
 * check may simply not have started yet.
 *
 * @example
 * evaluateChecks(['test', 'lint'], checks);
 * // { verdict: 'pending', passed: ['test'], missing: ['lint'], description: 'waiting for checks: lint', … }
 * evaluateChecks('all', checks, { ignore: ['BitEnvoy config'] });
 */
export function evaluateChecks(required: string[] | 'all', checks: CommitCheck[], options: EvaluateChecksOptions = {}): ChecksVerdict {
  const ignore = new Set(required === 'all' ? (options.ignore ?? []) : []);
  // A check run and a status may share a name; GitHub then requires both, so the worst of them stands for the name.
  const byName = new Map<string, CommitCheck>();
  for (const check of checks) {
    if (ignore.has(check.name)) continue;
    const seen = byName.get(check.name);
    if (!seen || SEVERITY[check.state] > SEVERITY[seen.state]) byName.set(check.name, check);
  }
  const names = required === 'all' ? [...byName.keys()] : [...new Set(required)];
  const verdict: ChecksVerdict = { verdict: 'green', passed: [], pending: [], missing: [], failed: [], description: '' };
  for (const name of names) {
    const check = byName.get(name);
    if (!check) verdict.missing.push(name);
    else if (check.state === 'success') verdict.passed.push(name);
    else if (check.state === 'pending') verdict.pending.push(name);
    else verdict.failed.push({ name, conclusion: check.conclusion });
  }

  if (verdict.failed.length) {
    return { ...verdict, verdict: 'red', description: listed('checks failed: ', verdict.failed.map((f) => `${f.name} (${f.conclusion})`)) };
  }
  if (names.length === 0) return { ...verdict, verdict: 'pending', description: 'waiting for checks: none has reported yet' };
  const waiting = [...verdict.pending, ...verdict.missing];
  if (waiting.length) return { ...verdict, verdict: 'pending', description: listed('waiting for checks: ', waiting) };
  // What was read passed, but a failure may hide in what was not: wait (the checks timeout still ends the wait).
  if (options.incomplete) return { ...verdict, verdict: 'pending', description: truncate(`not every check could be read (${options.incomplete})`) };
  return { ...verdict, description: `all ${verdict.passed.length} ${required === 'all' ? '' : 'required '}checks passed` };
}

/** `prefix` and as many items as fit in 140 characters, the rest counted ("a, b and 7 more") rather than cut mid-name. */
function listed(prefix: string, items: string[]): string {
  const full = prefix + items.join(', ');
  if (full.length <= MAX_DESCRIPTION) return full;
  for (let shown = items.length - 1; shown > 0; shown--) {
    const text = `${prefix}${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
    if (text.length <= MAX_DESCRIPTION) return text;
  }
  // Even one name does not fit: cut it (never inside a surrogate pair), but still say how many others there are.
  const more = items.length > 1 ? ` and ${items.length - 1} more` : '';
  const cut = (prefix + items[0]).slice(0, MAX_DESCRIPTION - more.length - 1).replace(/[\uD800-\uDBFF]$/, '');
  return `${cut}…${more}`;
}
