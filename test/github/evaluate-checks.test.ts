/** Whether a commit's checks allow an automatic deployment: table-driven over the cases people meet. */
import { describe, expect, it } from 'vitest';
import { evaluateChecks } from '../../app/github/evaluate-checks.js';
import { newestPerName, type CommitCheck } from '../../app/github/list-commit-checks.js';

const at = '2026-11-25T10:00:00Z';
const ok = (name: string, conclusion = 'success'): CommitCheck => ({ name, kind: 'check_run', state: 'success', conclusion, at, id: 1 });
const bad = (name: string, conclusion = 'failure'): CommitCheck => ({ name, kind: 'check_run', state: 'failure', conclusion, at, id: 1 });
const running = (name: string): CommitCheck => ({ name, kind: 'status', state: 'pending', conclusion: 'pending', at, id: 1 });

describe('evaluateChecks', () => {
  it.each<[string, string[] | 'all', CommitCheck[], string, string]>([
    ['every required check passed', ['test', 'lint'], [ok('test'), ok('lint'), bad('optional')], 'green', 'all 2 required checks passed'],
    ['neutral and skipped pass', ['a', 'b'], [ok('a', 'neutral'), ok('b', 'skipped')], 'green', 'all 2 required checks passed'],
    ['one required check failed', ['test', 'lint'], [ok('test'), bad('lint', 'timed_out')], 'red', 'checks failed: lint (timed_out)'],
    ['one required check has not reported', ['test', 'lint'], [ok('test')], 'pending', 'waiting for checks: lint'],
    ['a failure wins over a missing check', ['test', 'lint', 'e2e'], [bad('test')], 'red', 'checks failed: test (failure)'],
    ['one is still running', ['test'], [running('test')], 'pending', 'waiting for checks: test'],
    ['`all` with nothing reported yet', 'all', [], 'pending', 'waiting for checks: none has reported yet'],
    ['`all` with a pending status', 'all', [ok('test'), running('ci/jenkins')], 'pending', 'waiting for checks: ci/jenkins'],
    ['`all` with everything green', 'all', [ok('test'), ok('ci/jenkins')], 'green', 'all 2 checks passed'],
    ['`all` with a failure', 'all', [ok('test'), bad('lint')], 'red', 'checks failed: lint (failure)'],
  ])('%s', (_what, required, checks, verdict, description) => {
    const result = evaluateChecks(required, checks);
    expect([result.verdict, result.description]).toEqual([verdict, description]);
  });

  it('skips ignored names (its own config check)', () => {
    expect(evaluateChecks('all', [ok('test'), bad('BitEnvoy config')], { ignore: ['BitEnvoy config'] }).verdict).toBe('green');
  });

  it('keeps the description within 140 characters', () => {
    const names = Array.from({ length: 30 }, (_, i) => `a-rather-long-check-name-${i}`);
    const result = evaluateChecks(names, []);
    expect(result.missing).toHaveLength(30);
    expect(result.description.length).toBe(140);
    expect(result.description.endsWith('…')).toBe(true);
  });
});

describe('newestPerName', () => {
  it('lets a re-run replace the run before it, by time and then by id', () => {
    const checks = newestPerName([
      { ...bad('test'), at: '2026-11-25T10:00:00Z', id: 1 },
      { ...ok('test'), at: '2026-11-25T10:05:00Z', id: 2 },
      { ...ok('lint'), id: 7 },
      { ...bad('lint'), id: 3 },
    ]);
    expect(checks.map((c) => [c.name, c.state])).toEqual([
      ['test', 'success'],
      ['lint', 'success'],
    ]);
  });
});
