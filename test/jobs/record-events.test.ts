/**
 * Job events: sequence numbers make retries harmless and gaps explicit; state and step events move the job.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys, type JobRecord } from '../../app/model.js';
import type { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { JobEvent, JobSpec } from '../../lib/protocol.js';
import { deploymentStatusFor } from '../../app/github/deployment-status.js';
import { DEPLOY, openEngineFixture, stateEvent, type EngineFixture } from '../helpers/engine-fixture.js';

let f: EngineFixture;
let engine: RolloutEngine;
let job: JobSpec;
beforeEach(async () => {
  f = await openEngineFixture();
  await f.addAgent('ag_a', 'web-1');
  engine = f.engine();
  await engine.createDeployment(DEPLOY, 'test');
  job = (await engine.nextJob('ag_a'))!;
  await engine.claimJob('ag_a', job.id, 'cl_1');
});
afterEach(async () => {
  await f.close();
});

const step = (seq: number, status: 'started' | 'succeeded' | 'failed', exitCode?: number): JobEvent => ({
  seq,
  at: '2026-11-25T10:00:01.000Z',
  type: 'step',
  step: { index: 1, name: 'migrate' },
  status,
  ...(exitCode === undefined ? {} : { exitCode }),
});

const stored = async () => (await f.store.get<JobRecord>(keys.job(job.id)))!;

describe('appendEvents', () => {
  it('keeps no credentials of a URL in a message, whatever agent sent it (agents from before issue 12 redact nothing)', async () => {
    const leaky = 'could not read https://deploy:ghp_SECRET123@git.test/acme/shop.git';
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'running'), { ...step(2, 'failed', 128), message: leaky }, stateEvent(3, 'failed', `step migrate: ${leaky}`)]);
    expect(JSON.stringify(await stored())).not.toContain('ghp_SECRET123');
    expect((await stored()).message).toBe('step migrate: could not read https://***@git.test/acme/shop.git');
    // The failure description is what GitHub's deployment status shows (public on a public repository).
    const view = (await engine.getDeploymentView(job.deploymentId))!;
    expect(deploymentStatusFor(view.deployment, 'https://hub.test').description).toBe('web-1: step migrate: could not read https://***@git.test/acme/shop.git');
  });

  it('moves the job by state and step events, and acknowledges the highest seq', async () => {
    expect(await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'fetching'), stateEvent(2, 'running'), step(3, 'started')])).toEqual({ ackedSeq: 3 });
    expect(await stored()).toMatchObject({ state: 'running', step: { index: 1, name: 'migrate', status: 'started' }, eventsAckedSeq: 3 });
  });

  it('ignores duplicates, including a whole batch sent twice', async () => {
    const batch = [stateEvent(1, 'running'), step(2, 'started')];
    await engine.appendEvents('ag_a', job.id, 'cl_1', batch);
    expect(await engine.appendEvents('ag_a', job.id, 'cl_1', batch)).toEqual({ ackedSeq: 2 });
    expect(await engine.appendEvents('ag_a', job.id, 'cl_1', [...batch, step(3, 'succeeded')])).toEqual({ ackedSeq: 3 });
    expect((await stored()).events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('stores what comes before a gap, then answers 409 BE_SEQ_GAP with the seq to resend from', async () => {
    const err = await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'running'), step(3, 'started')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BitEnvoyError);
    expect(err).toMatchObject({ code: 'BE_SEQ_GAP', status: 409, details: { expectedSeq: 2 } });
    expect(await stored()).toMatchObject({ state: 'running', eventsAckedSeq: 1 });
    expect(await engine.appendEvents('ag_a', job.id, 'cl_1', [step(2, 'started'), step(3, 'failed', 1)])).toEqual({ ackedSeq: 3 });
  });

  it('acknowledges events after a final state but changes nothing', async () => {
    await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(1, 'failed', 'step migrate exited 1')]);
    expect(await engine.appendEvents('ag_a', job.id, 'cl_1', [stateEvent(2, 'succeeded')])).toEqual({ ackedSeq: 2 });
    expect(await stored()).toMatchObject({ state: 'failed', message: 'step migrate exited 1', finishedAt: '2026-11-25T10:00:00.000Z' });
  });

  it('refuses reports under another claimId or from another agent', async () => {
    await expect(engine.appendEvents('ag_a', job.id, 'cl_2', [stateEvent(1, 'running')])).rejects.toMatchObject({ code: 'BE_JOB_CLAIMED' });
    await expect(engine.appendEvents('ag_x', job.id, 'cl_1', [stateEvent(1, 'running')])).rejects.toMatchObject({ code: 'BE_NOT_FOUND' });
    expect((await stored()).eventsAckedSeq).toBe(0);
  });
});
