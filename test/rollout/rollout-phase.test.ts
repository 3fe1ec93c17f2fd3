/**
 * The rollout's phase: one transition function, a final state never changes, and events that do not apply to the
 * phase change nothing.
 */
import { describe, expect, it } from 'vitest';
import type { DeploymentRecord } from '../../app/model.js';
import { TRANSITIONS, transition } from '../../app/rollout/rollout-phase.js';
import { DEPLOYMENT_STATES } from '../../lib/protocol.js';

const NOW = '2026-12-05T10:00:00.000Z';
const base = { id: 'dep_1', state: 'queued', description: 'd', createdAt: NOW, updatedAt: NOW } as DeploymentRecord;

describe('transition', () => {
  it('starts a queued rollout once', () => {
    const started = transition(base, { type: 'started' }, NOW)!;
    expect(started.state).toBe('in_progress');
    expect(transition(started, { type: 'started' }, NOW)).toBeUndefined();
  });

  it('finishes from queued or in progress, with the description and end time, and never again', () => {
    for (const from of ['queued', 'in_progress'] as const) {
      const done = transition({ ...base, state: from }, { type: 'finished', state: 'failure', description: 'web-2: step exited 3', extra: { autoRollback: { skipped: 'x' } } }, NOW)!;
      expect(done).toMatchObject({ state: 'failure', description: 'web-2: step exited 3', finishedAt: NOW, autoRollback: { skipped: 'x' } });
      for (const event of [{ type: 'started' }, { type: 'finished', state: 'success', description: '' }, { type: 'superseded', by: 'dep_2' }] as const) {
        expect(transition(done, event, NOW)).toBeUndefined();
      }
    }
  });

  it('refuses or supersedes only a rollout that waits for its environment', () => {
    expect(transition(base, { type: 'superseded', by: 'dep_2' }, NOW)).toBeUndefined();
    const waiting = { ...base, waitingFor: 'dep_0' };
    expect(transition(waiting, { type: 'superseded', by: 'dep_2' }, NOW)).toMatchObject({ state: 'error', description: 'superseded by dep_2 before it started' });
    const refused = transition(waiting, { type: 'refused', reasons: ['locked by @octocat', 'staging runs nothing yet'] }, NOW)!;
    expect(refused).toMatchObject({ state: 'error', description: 'not started: locked by @octocat; staging runs nothing yet', finishedAt: NOW });
    expect(refused.waitingFor).toBeUndefined();
  });

  it('knows every state, and no final state leads anywhere', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...DEPLOYMENT_STATES].sort());
    for (const state of ['success', 'failure', 'error', 'cancelled'] as const) expect(TRANSITIONS[state]).toEqual([]);
  });
});
