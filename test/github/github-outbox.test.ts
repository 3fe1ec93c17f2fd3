/**
 * The GitHub outbox: PR replies, reactions and the config check run are journalled in the store and sent by one
 * sender per installation — in order, retried as GitHub asks (Retry-After), dropped with an error log when GitHub
 * refuses them for good, and resumed by the next hub when one is killed with effects still queued. Real SQLite
 * store; GitHub answered by nock over Octokit's real HTTP stack, every request checked against GitHub's REST
 * description (github.com and GHES 3.19).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import nock from 'nock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CONFIG_CHECK_RUN_EFFECT, configCheckRunEffect, type CheckAnnotation } from '../../app/github/config-check-run.js';
import { GitHubOutbox, type GitHubOutboxOptions, type OutboxOctokit } from '../../app/github/github-outbox.js';
import { openStore } from '../../app/store/open-store.js';
import type { Store } from '../../app/store/store.js';
import type { ConfigIssue } from '../../config-schema/validate-config-dir.js';
import { capturedLogger, type LogLine } from '../helpers/captured-logger.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';
import { startDeploymentStatusesStandIn, type DeploymentStatusesStandIn, type StatusFault } from './deployment-statuses-stand-in.js';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- request bodies as GitHub receives them

const REPLY = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';
const REACTION = 'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions';
const RUN_ID = 4242;
const HEAD = 'a'.repeat(40);

/** One answer GitHub gives instead of success. */
interface Fault {
  status: number;
  headers?: Record<string, string>;
}

let contracts: GitHubContract[];
let dir: string;
let stores: Store[];
let outboxes: GitHubOutbox[];
let requests: Array<{ method: string; path: string; body: Body; at: number; status: number }>;
let problems: string[];
/** Faults per `METHOD /path`, used up in order; then GitHub accepts. */
let faults: Map<string, Fault[]>;
let logLines: LogLine[];

beforeAll(async () => {
  contracts = await Promise.all([loadGitHubContract('api.github.com'), loadGitHubContract('ghes-3.19')]);
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-effects-'));
  stores = [];
  outboxes = [];
  requests = [];
  problems = [];
  faults = new Map();
  logLines = [];
  // The reply kind looks for a reply's marker among the comments before posting it again: GitHub lists those it took.
  nock('https://api.github.com')
    .persist()
    .get(/\/repos\/acme\/app\/issues\/\d+\/comments/)
    .query(true)
    .reply((req: Request) => {
      const url = new URL(req.url);
      const path = url.pathname;
      problems.push(...contracts.flatMap((c) => c.problems('GET', `${path}${url.search}`)));
      requests.push({ method: 'GET', path, body: {}, at: Date.now(), status: 200 });
      return [200, requests.filter((r) => r.method === 'POST' && r.path === path && r.status === 201).map((r, i) => ({ id: i + 1, body: r.body.body }))];
    });
  for (const method of ['POST', 'PATCH'] as const) {
    nock('https://api.github.com')
      .persist()
      .intercept(() => true, method)
      // nock hands the reply function the fetch Request.
      .reply(async (req: Request) => {
        const path = new URL(req.url).pathname;
        const parsed = (await req.json()) as Body;
        const key = `${method} ${path}`;
        problems.push(...contracts.flatMap((c) => c.problems(method, path, parsed)));
        const fault = faults.get(key)?.shift();
        const status = fault?.status ?? (method === 'POST' ? 201 : 200);
        requests.push({ method, path, body: parsed, at: Date.now(), status });
        if (fault) return [fault.status, { message: `fault ${fault.status}` }, fault.headers ?? {}];
        return [status, path.endsWith('/check-runs') ? { id: RUN_ID } : { id: requests.length }];
      });
  }
});

afterEach(async () => {
  for (const outbox of outboxes) outbox.close();
  nock.cleanAll();
  for (const store of stores) await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function store(): Promise<Store> {
  const opened = await openStore({ dataDir: dir });
  stores.push(opened);
  return opened;
}

function outbox(onStore: Store, options: Partial<GitHubOutboxOptions> = {}): GitHubOutbox {
  const quiet = () => undefined;
  const octokit = new Octokit({ auth: 'ghs_test', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
  const log = capturedLogger(logLines);
  const made = new GitHubOutbox({ store: onStore, octokitFor: async () => octokit, log, retry: { baseMs: 10, maxMs: 20 }, ...options });
  outboxes.push(made);
  return made;
}

const reply = (issue: number, body: string) => ({ installationId: 1, route: REPLY, params: { owner: 'acme', repo: 'app', issue_number: issue, body } });
const rows = (s: Store) => s.db.all<{ id: number; attempts: number; params: string }>('SELECT id, attempts, params FROM github_effects ORDER BY id');
/** A reply's text as the command wrote it: without the hidden marker the outbox appends (reply-effect.ts). */
const text = (body: unknown) => String(body).replace(/\n\n<!-- bitenvoy:effect [0-9a-f-]{36} -->$/, '');
const sent = () => requests.filter((r) => r.status < 300 && r.method !== 'GET').map((r) => `${r.method} ${r.path}${r.body.body ? ` ${text(r.body.body)}` : ''}${r.body.content ? ` ${String(r.body.content)}` : ''}`);

describe('the GitHub outbox', () => {
  it('retries a reply answered 502, then 403 with Retry-After, after the wait; the reply queued behind it follows in order', async () => {
    const s = await store();
    const box = outbox(s);
    faults.set('POST /repos/acme/app/issues/12/comments', [{ status: 502 }, { status: 403, headers: { 'retry-after': '1' } }]);

    await box.enqueue(1, REPLY, { owner: 'acme', repo: 'app', issue_number: 12, body: 'first' });
    await box.enqueue(1, REPLY, { owner: 'acme', repo: 'app', issue_number: 12, body: 'second' });
    await box.idle();

    // After the 502 GitHub may have taken it: the comments are looked at first. After the 403 it surely did not.
    expect(requests.map((r) => `${r.status} ${r.method} ${text(r.body.body)}`)).toEqual(['502 POST first', '200 GET undefined', '403 POST first', '201 POST first', '201 POST second']);
    // GitHub asked for a second's wait: nothing of this installation went out before it was over.
    expect(requests[3]!.at - requests[2]!.at).toBeGreaterThanOrEqual(990);
    expect(await rows(s)).toEqual([]);
    expect(logLines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^could not send the reply in acme\/app#12 to GitHub: GitHub answered 502 .*; retrying in/),
      expect.stringMatching(/^could not send the reply in acme\/app#12 to GitHub: GitHub answered 403 .*, Retry-After 1 s; retrying in 1\.0 s/),
    ]);
    expect(problems).toEqual([]);
  });

  it('after a hub is killed with effects queued, the next one sends each exactly once and in order', async () => {
    // The first hub: GitHub never answers it, and it dies with its first request still out.
    const first = await store();
    const hung: OutboxOctokit = { request: () => new Promise(() => undefined) };
    const dying = outbox(first, { octokitFor: async () => hung });
    await dying.enqueueAll([
      { installationId: 1, route: REACTION, params: { owner: 'acme', repo: 'app', comment_id: 7, content: 'eyes' } },
      reply(12, 'one'),
    ]);
    await dying.enqueueAll([reply(12, 'two'), reply(13, 'elsewhere'), { ...reply(12, 'other installation'), installationId: 2 }]);
    await dying.enqueue(1, REPLY, reply(12, 'three').params);
    expect((await rows(first)).length).toBe(6);

    // The next hub, on the same store file.
    const next = outbox(await store());
    await next.start();
    await next.idle();

    const one = sent().filter((r) => !r.includes('other installation'));
    expect(one).toEqual([
      'POST /repos/acme/app/issues/comments/7/reactions eyes',
      'POST /repos/acme/app/issues/12/comments one',
      'POST /repos/acme/app/issues/12/comments two',
      'POST /repos/acme/app/issues/13/comments elsewhere',
      'POST /repos/acme/app/issues/12/comments three',
    ]);
    expect(sent().filter((r) => r.includes('other installation'))).toEqual(['POST /repos/acme/app/issues/12/comments other installation']);
    expect(await rows(first)).toEqual([]);
    expect(logLines.map((l) => l.msg)).toContain('resuming 6 GitHub side effect(s) (deployments, PR replies, reactions, check runs) the last run did not send');
    expect(problems).toEqual([]);
  });

  it('two hub replicas sending one store\'s effects send each exactly once, in order', async () => {
    const a = outbox(await store());
    const b = outbox(await store());
    const texts = Array.from({ length: 12 }, (_, i) => `reply ${i}`);
    // Written by replica a without waking anyone; both find them when they start, at the same moment.
    await (await store()).runBatch(
      texts.map((text) => ({
        sql: 'INSERT INTO github_effects (installation_id, route, params, created_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, 0, ?)',
        params: [1, REPLY, JSON.stringify(reply(12, text).params), new Date().toISOString(), new Date().toISOString()],
      })),
    );
    await Promise.all([a.start(), b.start()]);
    for (let i = 0; i < 100 && (await rows(stores[0]!)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    await Promise.all([a.idle(), b.idle()]);
    expect(sent()).toEqual(texts.map((text) => `POST /repos/acme/app/issues/12/comments ${text}`));
    expect(problems).toEqual([]);
  });

  it.each([
    [422, /^GitHub refused the eyes reaction on comment 7 in acme\/app: GitHub answered 422 .*It is not sent again: GitHub found the request invalid.*report this line as a BitEnvoy bug$/],
    [404, /^GitHub refused the eyes reaction on comment 7 in acme\/app: GitHub answered 404 .*check that the App is still installed on it with "Issues: write"$/],
  ])('gives up an effect GitHub answers %i, logs what and what to check, and goes on with the next', async (status, message) => {
    const s = await store();
    const box = outbox(s);
    faults.set('POST /repos/acme/app/issues/comments/7/reactions', [{ status }]);

    await box.enqueueAll([{ installationId: 1, route: REACTION, params: { owner: 'acme', repo: 'app', comment_id: 7, content: 'eyes' } }, reply(12, 'after')]);
    await box.idle();

    expect(requests.map((r) => `${r.status} ${r.path}`)).toEqual([`${status} /repos/acme/app/issues/comments/7/reactions`, '201 /repos/acme/app/issues/12/comments']);
    expect(await rows(s)).toEqual([]);
    expect(logLines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([expect.stringMatching(message)]);
  });

  it('writes nothing when the transaction with the caller\'s own statements fails', async () => {
    const s = await store();
    const box = outbox(s);
    await expect(box.enqueueAll([reply(12, 'never')], [{ sql: 'INSERT INTO no_such_table VALUES (?)', params: [1] }])).rejects.toThrow(/no_such_table/);
    expect(await rows(s)).toEqual([]);
    await expect(box.enqueue(1, 'bitenvoy:nothing', {})).rejects.toThrow('unknown GitHub effect kind bitenvoy:nothing: register it');
  });
});

describe('the config check run as an outbox effect', () => {
  const issue = (n: number): ConfigIssue => ({ file: 'groups.yml', path: `groups.g${n}`, line: n + 1, message: `problem ${n}` });
  const annotationsOf = (r: { body: Body }) => (r.body.output as { annotations: CheckAnnotation[] }).annotations.map((a) => a.message);

  it('resumes after a failure between the create and the updates with only the updates left', async () => {
    const { params, conclusion } = configCheckRunEffect({ owner: 'acme', repo: '.bitenvoy', headSha: HEAD, result: { errors: Array.from({ length: 120 }, (_, i) => issue(i)), warnings: [] } });
    expect(conclusion).toBe('failure');
    const first = await store();
    // The first hub creates the run, then dies with its first update still out (GitHub never sees it).
    const quiet = () => undefined;
    const octokit = new Octokit({ auth: 'ghs_test', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
    let updating = false;
    const dying = outbox(first, {
      octokitFor: async () => ({
        request: (route, p) => (route.startsWith('PATCH') ? ((updating = true), new Promise(() => undefined)) : octokit.request(route, p)),
      }),
    });
    await dying.enqueue(1, CONFIG_CHECK_RUN_EFFECT, { ...params });
    await vi.waitFor(() => expect(updating).toBe(true));
    const [left] = await rows(first);
    // Progress is in the row: the run's id, and the 70 annotations the create did not carry.
    expect(JSON.parse(left!.params)).toMatchObject({ checkRunId: RUN_ID, rest: expect.any(Array) });
    expect((JSON.parse(left!.params) as { rest: unknown[] }).rest).toHaveLength(70);

    // The next hub on the same file: its first update fails once more (502), then both go through.
    faults.set(`PATCH /repos/acme/.bitenvoy/check-runs/${RUN_ID}`, [{ status: 502 }]);
    const next = outbox(await store());
    await next.start();
    await next.idle();

    expect(requests.map((r) => `${r.status} ${r.method} ${r.path}`)).toEqual([
      '201 POST /repos/acme/.bitenvoy/check-runs',
      `502 PATCH /repos/acme/.bitenvoy/check-runs/${RUN_ID}`,
      `200 PATCH /repos/acme/.bitenvoy/check-runs/${RUN_ID}`,
      `200 PATCH /repos/acme/.bitenvoy/check-runs/${RUN_ID}`,
    ]);
    const [create, failed, ...updates] = requests;
    expect(annotationsOf(failed!)).toEqual(annotationsOf(updates[0]!));
    // Every annotation reached GitHub once, in order.
    expect([create!, ...updates].flatMap(annotationsOf)).toEqual(Array.from({ length: 120 }, (_, i) => `\`groups.g${i}\`: problem ${i}`));
    expect(await rows(first)).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('sends the create again when GitHub failed it, and gives up a run GitHub answers without an id', async () => {
    const s = await store();
    const box = outbox(s);
    const { params } = configCheckRunEffect({ owner: 'acme', repo: '.bitenvoy', headSha: HEAD, result: { errors: [issue(1)], warnings: [] } });
    faults.set('POST /repos/acme/.bitenvoy/check-runs', [{ status: 500 }]);
    await box.enqueue(1, CONFIG_CHECK_RUN_EFFECT, { ...params });
    await box.idle();
    expect(requests.map((r) => `${r.status} ${r.method} ${r.path}`)).toEqual(['500 POST /repos/acme/.bitenvoy/check-runs', '201 POST /repos/acme/.bitenvoy/check-runs']);

    await s.db.run("INSERT INTO github_effects (installation_id, route, params, created_at, attempts, next_attempt_at) VALUES (1, ?, '{\"owner\":\"acme\"}', '2020-01-01T00:00:00Z', 0, '2020-01-01T00:00:00Z')", CONFIG_CHECK_RUN_EFFECT);
    await box.start();
    await box.idle();
    expect(await rows(s)).toEqual([]);
    expect(logLines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^the "BitEnvoy config" check run on acme\/undefined@\? cannot be sent: a stored "BitEnvoy config" check run lacks .*push to the config repo again.*report this line as a BitEnvoy bug$/),
    ]);
  });
});

describe('a PR reply is posted once', () => {
  let github: DeploymentStatusesStandIn;
  beforeEach(async () => {
    github = await startDeploymentStatusesStandIn();
  });
  afterEach(async () => {
    await github.close();
  });

  /** An outbox on the stand-in; `dead` makes every request of it hang, as a killed hub's never come back. */
  function onStandIn(onStore: Store) {
    const state = { dead: false };
    const quiet = () => undefined;
    const octokit = new Octokit({ baseUrl: github.url, auth: 'ghs_test', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
    const box = outbox(onStore, {
      octokitFor: async () => ({ request: (route, params) => (state.dead ? new Promise(() => undefined) : octokit.request(route, params)) }),
      // Long enough for a loaded machine; the requests that hang on purpose wait it out.
      requestTimeoutMs: 2000,
    });
    return { box, state };
  }
  const comments = () => github.comments.map((c) => `#${c.issue} ${text(c.body)}`);
  const calls = () => github.requests.map((r) => `${r.method} ${r.answer}`);

  it.each<[string, StatusFault, string[], string[]]>([
    ['timed out after GitHub stored it: found by its marker, not posted again', { hang: true, record: true }, ['POST hang', 'GET 200'], ['#12 done']],
    ['had its connection cut after GitHub stored it: found by its marker, not posted again', { reset: true, record: true }, ['POST reset', 'GET 200'], ['#12 done']],
    ['timed out and GitHub never stored it: posted once on the retry', { hang: true }, ['POST hang', 'GET 200', 'POST 201'], ['#12 done']],
  ])('a reply whose POST %s', async (_what, fault, requested, held) => {
    const { box } = onStandIn(await store());
    github.commentFaults.push(fault);
    await box.enqueue(1, REPLY, { owner: 'acme', repo: 'app', issue_number: 12, body: 'done' });
    await box.idle();
    expect(calls()).toEqual(requested);
    expect(comments()).toEqual(held);
    expect(github.comments[0]!.body).toMatch(/^done\n\n<!-- bitenvoy:effect [0-9a-f-]{36} -->$/);
    // The comments looked at are those since the reply was queued, a page of 100 at a time.
    expect(github.requests.find((r) => r.method === 'GET')!.query).toMatch(/^\?since=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ&per_page=100&page=1$/);
    expect(github.problems).toEqual([]);
  });

  it('after a hub is killed with a reply GitHub stored but never answered, the next one does not post it again; one it never sent is posted once', async () => {
    const first = await store();
    const dying = onStandIn(first);
    github.commentFaults.push({ hang: true, record: true });
    await dying.box.enqueueAll([reply(12, 'stored'), reply(12, 'not sent yet')]);
    await vi.waitFor(() => expect(github.comments).toHaveLength(1));
    dying.state.dead = true;
    dying.box.close();

    const next = onStandIn(await store());
    await next.box.start();
    await next.box.idle();
    expect(comments()).toEqual(['#12 stored', '#12 not sent yet']);
    expect(calls()).toEqual(['POST hang', 'GET 200', 'POST 201']);
    expect(await rows(first)).toEqual([]);
    expect(github.problems).toEqual([]);
  });

  it('looks through several pages of comments made since the reply was queued', async () => {
    const { box } = onStandIn(await store());
    github.commentFaults.push({ reset: true, record: true });
    await box.enqueue(1, REPLY, { owner: 'acme', repo: 'app', issue_number: 12, body: 'mine' });
    // 150 other comments land on the pull request after it: the reply is on the second page.
    github.comments.unshift(...Array.from({ length: 150 }, (_, i) => ({ id: i + 1, repository: 'acme/app', issue: 12, body: `chatter ${i}`, created_at: new Date().toISOString(), updated_at: new Date().toISOString() })));
    await box.idle();
    expect(github.requests.filter((r) => r.method === 'GET').map((r) => r.query.replace(/since=[^&]+&/, ''))).toEqual(['?per_page=100&page=1', '?per_page=100&page=2']);
    expect(github.comments.filter((c) => c.body.startsWith('mine'))).toHaveLength(1);
  });
});
