/**
 * `bitenvoy demo --keep`, as a new user runs it: it prints the admin token and the status page, and leaves one
 * deployment waiting at a manual gate, which the printed command continues. The built CLI, real processes.
 */
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startCli, type ManagedProcess } from '../../testbed/processes.js';
import { readWholeDeployment } from '../../testbed/read-whole-deployment.js';
import { cleanEnv, runBitenvoy } from './run-bitenvoy.js';

let demo: ManagedProcess | undefined;
let root: string | undefined;
afterAll(async () => {
  await demo?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

async function until<T>(what: string, read: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let ended = false;
  void demo?.exited.then(() => (ended = true));
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (ended || Date.now() > deadline) throw new Error(`${what} ${ended ? '(the demo ended)' : `within ${ms} ms`}; the demo printed:\n${demo?.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('demo --keep prints the admin token and leaves a deployment at a manual gate to continue', async () => {
  demo = startCli('demo', ['demo', '--keep'], { env: cleanEnv() });
  const out = await until('no "Press Ctrl-C"', () => (demo!.output().includes('Press Ctrl-C') ? demo!.output() : undefined), 150_000);
  root = dirname(/\(data in (\S+)\)/.exec(out)![1]!);
  const hub = /^ {2}hub {12}(http:\/\/\S+)/m.exec(out)![1]!;
  const token = /^ {2}admin token {4}(\S+)/m.exec(out)![1]!;
  const id = /deployment (dep_\w+) waits at its manual gate: web-1 runs the commit, web-2 waits/.exec(out)![1]!;
  expect(out).toContain(`status page ${hub}/deployments/${id}`);
  expect(out).toContain('Demo succeeded');

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${hub}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const view = () => readWholeDeployment(get, id);
  const gated = await view();
  expect(gated.deployment).toMatchObject({ environment: 'production', strategy: 'canary', state: 'in_progress', gate: { manual: true } });
  // Batch 1 (web-1) is done; batch 2 (web-2) gets its job only once the gate opens.
  expect(gated.deployment.batches.map((b) => b.size)).toEqual([1, 1]);
  expect(gated.counts).toEqual({ succeeded: 1 });
  expect(gated.jobs.map((j) => [j.agentName, j.state])).toEqual([['web-1', 'succeeded']]);

  // The printed command continues it, and web-2 follows.
  const command = new RegExp(`^ {2}bitenvoy (continue ${id} --hub \\S+ --token \\S+)$`, 'm').exec(out)![1]!.split(' ');
  const continued = await runBitenvoy(command);
  expect(continued.code).toBe(0);
  const done = await until('the rollout did not finish', async () => {
    const v = await view();
    return v.deployment.state === 'in_progress' ? undefined : v;
  }, 60_000);
  expect(done.deployment.state).toBe('success');
  expect(done.jobs.map((j) => [j.agentName, j.state])).toEqual([['web-1', 'succeeded'], ['web-2', 'succeeded']]);

  // Ctrl-C (or SIGTERM) stops everything: the hub no longer answers.
  await demo.stop(15_000);
  expect(await demo.exited).toBe(0);
  expect(demo.output()).toContain(`Stopped. The files are left in ${root}`);
  await expect(fetch(`${hub}/livez`)).rejects.toThrow();
}, 240_000);
