/** Whether a commit's checks allow an automatic deployment: table-driven over the cases people meet. */
import { describe, expect, it } from 'vitest';
import { evaluateChecks, type ChecksVerdict, type EvaluateChecksOptions } from '../../app/github/evaluate-checks.js';
import { toCommitChecks, type CheckRunItem, type CommitCheck } from '../../app/github/list-commit-checks.js';

const at = '2026-11-25T10:00:00Z';
const ok = (name: string, conclusion = 'success'): CommitCheck => ({ name, kind: 'check_run', state: 'success', conclusion, at });
const bad = (name: string, conclusion = 'failure'): CommitCheck => ({ name, kind: 'check_run', state: 'failure', conclusion, at });
const running = (name: string, kind: CommitCheck['kind'] = 'status'): CommitCheck => ({ name, kind, state: 'pending', conclusion: kind === 'status' ? 'pending' : 'in_progress', at });
/** A raw check run as GitHub lists it: `conclusion` null means still running. */
const run = (id: number, name: string, conclusion: string | null, startedAt: string): CheckRunItem => ({ id, name, status: conclusion ? 'completed' : 'in_progress', conclusion, started_at: startedAt, completed_at: conclusion ? startedAt : null });
const verdict = (v: ChecksVerdict['verdict'], description: string, parts: Partial<ChecksVerdict> = {}): ChecksVerdict => ({ verdict: v, passed: [], pending: [], missing: [], failed: [], description, ...parts });

describe('evaluateChecks', () => {
  it.each<[string, string[] | 'all', CommitCheck[], EvaluateChecksOptions, ChecksVerdict]>([
    ['every required check passed (others may fail)', ['test', 'lint'], [ok('test'), ok('lint'), bad('optional')], {}, verdict('green', 'all 2 required checks passed', { passed: ['test', 'lint'] })],
    ['neutral and skipped pass', ['a', 'b'], [ok('a', 'neutral'), ok('b', 'skipped')], {}, verdict('green', 'all 2 required checks passed', { passed: ['a', 'b'] })],
    ['one required check failed', ['test', 'lint'], [ok('test'), bad('lint', 'timed_out')], {}, verdict('red', 'checks failed: lint (timed_out)', { passed: ['test'], failed: [{ name: 'lint', conclusion: 'timed_out' }] })],
    ['one required check has not reported', ['test', 'lint'], [ok('test')], {}, verdict('pending', 'waiting for checks: lint', { passed: ['test'], missing: ['lint'] })],
    [
      'a failure wins over a missing and a running check',
      ['test', 'lint', 'e2e', 'build'],
      [bad('test'), bad('lint', 'cancelled'), running('build', 'check_run')],
      {},
      verdict('red', 'checks failed: test (failure), lint (cancelled)', { pending: ['build'], missing: ['e2e'], failed: [{ name: 'test', conclusion: 'failure' }, { name: 'lint', conclusion: 'cancelled' }] }),
    ],
    ['one is still running', ['test'], [running('test', 'check_run')], {}, verdict('pending', 'waiting for checks: test', { pending: ['test'] })],
    [
      'a re-run that passed replaces the failed run (newest listed first)',
      ['test'],
      toCommitChecks([run(2, 'test', 'success', '2026-11-25T10:05:00Z'), run(1, 'test', 'failure', '2026-11-25T10:00:00Z')], []),
      {},
      verdict('green', 'all 1 required checks passed', { passed: ['test'] }),
    ],
    [
      'a re-run that passed replaces the failed run (oldest listed first)',
      ['test'],
      toCommitChecks([run(1, 'test', 'failure', '2026-11-25T10:00:00Z'), run(2, 'test', 'success', '2026-11-25T10:05:00Z')], []),
      {},
      verdict('green', 'all 1 required checks passed', { passed: ['test'] }),
    ],
    [
      'a re-run still running replaces the failed run: wait for it',
      ['test'],
      toCommitChecks([run(1, 'test', 'failure', '2026-11-25T10:00:00Z'), run(2, 'test', null, '2026-11-25T10:05:00Z')], []),
      {},
      verdict('pending', 'waiting for checks: test', { pending: ['test'] }),
    ],
    [
      'a newer failure replaces an older success',
      ['test'],
      toCommitChecks([run(2, 'test', 'failure', '2026-11-25T10:05:00Z'), run(1, 'test', 'success', '2026-11-25T10:00:00Z')], []),
      {},
      verdict('red', 'checks failed: test (failure)', { failed: [{ name: 'test', conclusion: 'failure' }] }),
    ],
    [
      'a check run and a status of one name must both pass',
      ['ci'],
      toCommitChecks([run(1, 'ci', 'success', at)], [{ context: 'ci', state: 'error', updated_at: at }]),
      {},
      verdict('red', 'checks failed: ci (error)', { failed: [{ name: 'ci', conclusion: 'error' }] }),
    ],
    ['`all` with nothing reported yet', 'all', [], {}, verdict('pending', 'waiting for checks: none has reported yet')],
    ['`all` with a pending status', 'all', [ok('test'), running('ci/jenkins')], {}, verdict('pending', 'waiting for checks: ci/jenkins', { passed: ['test'], pending: ['ci/jenkins'] })],
    ['`all` with everything green', 'all', [ok('test'), ok('ci/jenkins')], {}, verdict('green', 'all 2 checks passed', { passed: ['test', 'ci/jenkins'] })],
    ['`all` with a failure', 'all', [ok('test'), bad('lint')], {}, verdict('red', 'checks failed: lint (failure)', { passed: ['test'], failed: [{ name: 'lint', conclusion: 'failure' }] })],
    ['`all` skips ignored names', 'all', [ok('test'), bad('BitEnvoy config'), running('BitEnvoy config')], { ignore: ['BitEnvoy config'] }, verdict('green', 'all 1 checks passed', { passed: ['test'] })],
    ['`all` with only ignored names waits', 'all', [ok('BitEnvoy config')], { ignore: ['BitEnvoy config'] }, verdict('pending', 'waiting for checks: none has reported yet')],
    ['a required name counts even when ignored', ['BitEnvoy config'], [bad('BitEnvoy config')], { ignore: ['BitEnvoy config'] }, verdict('red', 'checks failed: BitEnvoy config (failure)', { failed: [{ name: 'BitEnvoy config', conclusion: 'failure' }] })],
    [
      'green but the listing was cut short: wait',
      'all',
      [ok('test')],
      { incomplete: 'check runs: read 100 of 250, page 2 came back empty' },
      verdict('pending', 'not every check could be read (check runs: read 100 of 250, page 2 came back empty)', { passed: ['test'] }),
    ],
    ['red stays red on a listing cut short', 'all', [bad('test')], { incomplete: 'check runs: read 100 of 250' }, verdict('red', 'checks failed: test (failure)', { failed: [{ name: 'test', conclusion: 'failure' }] })],
  ])('%s', (_what, required, checks, options, expected) => {
    expect(evaluateChecks(required, checks, options)).toEqual(expected);
  });

  it.each<[string, string[], CommitCheck[], string]>([
    [
      'many names: as many as fit, the rest counted',
      Array.from({ length: 30 }, (_, i) => `a-rather-long-check-name-${i}`),
      [],
      'waiting for checks: a-rather-long-check-name-0, a-rather-long-check-name-1, a-rather-long-check-name-2 and 27 more',
    ],
    ['one name longer than the limit: cut with an ellipsis', ['x'.repeat(255)], [bad('x'.repeat(255), 'timed_out')], `checks failed: ${'x'.repeat(124)}…`],
    ['a first name too long, others counted', ['y'.repeat(200), 'lint'], [], `waiting for checks: ${'y'.repeat(108)}… and 1 more`],
  ])('keeps the description within 140 characters: %s', (_what, required, checks, description) => {
    const result = evaluateChecks(required, checks);
    expect(result.description).toBe(description);
    expect(result.description.length).toBeLessThanOrEqual(140);
  });
});
