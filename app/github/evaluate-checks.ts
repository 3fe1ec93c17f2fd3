/**
 * Decides whether a commit's checks allow an automatic deployment: every required check (or, with `all`, every check
 * run and status on the commit) must have passed. Any failure blocks at once; anything missing or running waits.
 *
 * @example
 * evaluateChecks(['test', 'lint'], checks); // { verdict: 'pending', missing: ['lint'], description: 'waiting for checks: lint', … }
 */
import { truncate } from '../rollout/describe-deployment.js';
import type { CommitCheck } from './list-commit-checks.js';

export interface ChecksVerdict {
  verdict: 'green' | 'pending' | 'red';
  passed: string[];
  pending: string[];
  missing: string[];
  failed: Array<{ name: string; conclusion: string }>;
  /** One sentence for people, at most 140 characters (a GitHub deployment status description). */
  description: string;
}

export function evaluateChecks(required: string[] | 'all', checks: CommitCheck[], options: { ignore?: string[] } = {}): ChecksVerdict {
  const ignore = new Set(options.ignore ?? []);
  const byName = new Map(checks.filter((c) => !ignore.has(c.name)).map((c) => [c.name, c]));
  const names = required === 'all' ? [...byName.keys()] : required;
  const passed: string[] = [];
  const pending: string[] = [];
  const missing: string[] = [];
  const failed: ChecksVerdict['failed'] = [];
  for (const name of names) {
    const check = byName.get(name);
    if (!check) missing.push(name);
    else if (check.state === 'success') passed.push(name);
    else if (check.state === 'pending') pending.push(name);
    else failed.push({ name, conclusion: check.conclusion });
  }
  if (failed.length) {
    return { verdict: 'red', passed, pending, missing, failed, description: truncate(`checks failed: ${failed.map((f) => `${f.name} (${f.conclusion})`).join(', ')}`) };
  }
  if (required === 'all' && names.length === 0) {
    return { verdict: 'pending', passed, pending, missing, failed, description: 'waiting for checks: none has reported yet' };
  }
  if (pending.length || missing.length) {
    return { verdict: 'pending', passed, pending, missing, failed, description: truncate(`waiting for checks: ${[...pending, ...missing].join(', ')}`) };
  }
  const what = required === 'all' ? `all ${passed.length} checks` : `all ${passed.length} required checks`;
  return { verdict: 'green', passed, pending, missing, failed, description: truncate(`${what} passed`) };
}
