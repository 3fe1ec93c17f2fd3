/**
 * A server's log read forward by cursor (`GET …/servers/:jobId/log?after=`), on a real hub in the test process whose
 * agent the test plays: from the start, then only what was added since — to the newest entry as chunks are joined to
 * it, and past it to new entries — never the whole log again. A cursor that is not one is a 400 saying what to pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_ENVIRONMENT as ENV, SAMPLE_REPOSITORY as REPO } from '../../testbed/sample-app.js';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => t?.close());

const api = async (path: string) => t.call('GET', `/api/v1${path}`, { token: ADMIN_TOKEN });
const at = '2026-11-25T10:00:00.000Z';

describe('GET /api/v1/deployments/:id/servers/:jobId/log?after=', () => {
  it('reads from the start, then only what came since, as entries grow and new ones start', async () => {
    const { agentId } = await t.enroll('web-1');
    const created = await t.call('POST', '/api/v1/deployments', { token: ADMIN_TOKEN, body: { repository: REPO, ref: 'main', environment: ENV } });
    const id = created.json.deployment.id as string;
    const engine = t.hub.engine;
    const job = (await engine.nextJob(agentId))!;
    await engine.claimJob(agentId, job.id, 'cl_log_cursor');
    await engine.appendLogs(agentId, job.id, 'cl_log_cursor', [
      { seq: 1, at, stream: 'system', data: 'fetching\n' },
      { seq: 2, at, step: 0, stream: 'stdout', data: 'building shop\n' },
    ]);
    const path = `/deployments/${id}/servers/${job.id}/log`;
    const first = await api(`${path}?after=0.0`);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ jobId: job.id, agentName: 'web-1', data: 'fetching\nbuilding shop\n', more: false });

    // Joined to the newest entry (same stream and step): only the new text.
    await engine.appendLogs(agentId, job.id, 'cl_log_cursor', [{ seq: 3, at, step: 0, stream: 'stdout', data: 'still building\n' }]);
    const second = await api(`${path}?after=${first.json.next}`);
    expect(second.json.data).toBe('still building\n');
    // Nothing new: nothing, and the same cursor.
    const idle = await api(`${path}?after=${second.json.next}`);
    expect([idle.json.data, idle.json.next]).toEqual(['', second.json.next]);
    // A new entry (another stream): from its start.
    await engine.appendLogs(agentId, job.id, 'cl_log_cursor', [{ seq: 4, at, step: 0, stream: 'stderr', data: 'warning: slow disk\n' }]);
    const third = await api(`${path}?after=${idle.json.next}`);
    expect(third.json.data).toBe('warning: slow disk\n');
    expect(third.json.next).not.toBe(idle.json.next);
    // The tail is still there without a cursor.
    expect((await api(path)).json.lines).toEqual(['fetching', 'building shop', 'still building', 'warning: slow disk']);

    const bad = await api(`${path}?after=latest`);
    expect([bad.status, bad.json.error.message]).toEqual([400, 'after: expected a log cursor like `0.0` (from the start) or the `next` of the previous read, got "latest"']);
  });
});
