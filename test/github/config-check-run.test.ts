/**
 * The "BitEnvoy config" check run: the real validator's issues become annotations on their lines, more than 50 go out
 * as updates of the run, long texts are cut to GitHub's limits, and every request — sent by Probot's own Octokit to
 * github.com or a GHES server answered by nock — is one GitHub accepts (github.com and GHES 3.19 descriptions).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import nock from 'nock';
import { Probot, ProbotOctokit } from 'probot';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configCheckRunBody, reportConfigCheckRun, type CheckAnnotation } from '../../app/github/config-check-run.js';
import { validateConfigDir, type ConfigIssue } from '../../config-schema/validate-config-dir.js';
import { silentLogger } from '../../lib/logger.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const SERVERS = [
  { name: 'github.com', baseUrl: 'https://api.github.com' },
  { name: 'GitHub Enterprise Server', baseUrl: 'https://ghe.example/api/v3' },
];
const HEAD = 'a'.repeat(40);
const RUN_ID = 4242;
const TOKEN = 'ghs_installation_token';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- request bodies as GitHub receives them
interface Output {
  title: string;
  summary: string;
  text?: string;
  annotations: CheckAnnotation[];
}

let contracts: GitHubContract[];
let dir: string;
let unmatched: string[];
const noMatch = (req: { method: string; url: string }) => unmatched.push(`${req.method} ${req.url}`);

beforeAll(async () => {
  contracts = await Promise.all([loadGitHubContract('api.github.com'), loadGitHubContract('ghes-3.19')]);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-check-'));
  unmatched = [];
  nock.emitter.on('no match', noMatch);
});
afterEach(async () => {
  // Every interceptor a test sets up must have been used, and no request may have gone unanswered.
  const pending = nock.pendingMocks();
  const done = nock.isDone();
  nock.cleanAll();
  nock.emitter.removeListener('no match', noMatch);
  await rm(dir, { recursive: true, force: true });
  expect(pending).toEqual([]);
  expect(done).toBe(true);
  expect(unmatched).toEqual([]);
});

async function write(files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/**
 * Answers, once each, the installation token request, the create and `updates` updates of run {@link RUN_ID} on
 * acme/.bitenvoy; records every body and what either GitHub description says is wrong with it.
 */
function answerGitHub(baseUrl: string, updates: number) {
  const requests: Array<{ method: string; path: string; body: Body | undefined }> = [];
  const problems: string[] = [];
  const { origin, pathname } = new URL(baseUrl);
  const prefix = pathname.replace(/\/$/, '');
  const record = (method: string, path: string) => (body: Body | string) => {
    const parsed = typeof body === 'object' ? body : undefined;
    problems.push(...contracts.flatMap((c) => c.problems(method, path, parsed)));
    requests.push({ method, path, body: parsed });
    return true;
  };
  const repo = `${prefix}/repos/acme/.bitenvoy`;
  nock(origin)
    .post(`${prefix}/app/installations/1/access_tokens`, record('POST', `${prefix}/app/installations/1/access_tokens`))
    .reply(201, { token: TOKEN, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: { checks: 'write' } });
  const api = nock(origin).matchHeader('authorization', `token ${TOKEN}`);
  api.post(`${repo}/check-runs`, record('POST', `${repo}/check-runs`)).reply(201, { id: RUN_ID, name: 'BitEnvoy config', head_sha: HEAD, status: 'completed' });
  if (updates) api.patch(`${repo}/check-runs/${RUN_ID}`, record('PATCH', `${repo}/check-runs/${RUN_ID}`)).times(updates).reply(200, { id: RUN_ID });
  return { requests, problems };
}

async function installationOctokit(baseUrl: string) {
  const probot = new Probot({ appId: 123, privateKey, baseUrl, log: silentLogger(), Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
  return probot.auth(1);
}

const issue = (n: number): ConfigIssue => ({ file: 'groups.yml', path: `groups.g${n}`, line: n + 1, column: 3, message: `problem ${n}`, hint: `fix ${n}` });
const bytes = (s: string) => Buffer.byteLength(s);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe.each(SERVERS)('the "BitEnvoy config" check run on $name', ({ baseUrl }) => {
  it('passes a valid config with one create request and no annotations', async () => {
    await write({
      'groups.yml': 'groups:\n  web:\n    selector:\n      matchLabels: { role: web }\n',
      'repositories/acme/shop.yml': 'environments:\n  staging:\n    branch: main\n    group: web\n',
    });
    const github = answerGitHub(baseUrl, 0);
    const result = await reportConfigCheckRun(await installationOctokit(baseUrl), { owner: 'acme', repo: '.bitenvoy', headSha: HEAD, result: await validateConfigDir(dir) });

    expect(result).toEqual({ checkRunId: RUN_ID, conclusion: 'success', requests: 1 });
    expect(github.requests.map((r) => r.method)).toEqual(['POST', 'POST']);
    const create = github.requests[1]!.body!;
    expect(create).toEqual({
      name: 'BitEnvoy config',
      head_sha: HEAD,
      status: 'completed',
      conclusion: 'success',
      completed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      output: { title: 'The BitEnvoy config is valid', summary: expect.stringContaining('this commit takes effect as soon as the hub fetches it'), annotations: [] },
    });
    expect(github.problems).toEqual([]);
  });

  it("annotates the real validator's errors on their files and lines, with the hint", async () => {
    await write({
      'groups.yml': 'groups:\n  web:\n    selector:\n      matchLabels: { role: web }\n',
      'strategies.yml': 'strategies:\n  careful:\n    type: blue-green\n',
      'repositories/acme/blog.yml': 'environments:\n  staging:\n    brnch: main\n    group: web\n',
      'repositories/acme/shop.yml': 'environments:\n  staging:\n    branch: main\n    group: web\n    strategy: carefull\n',
    });
    const github = answerGitHub(baseUrl, 0);
    const result = await reportConfigCheckRun(await installationOctokit(baseUrl), {
      owner: 'acme',
      repo: '.bitenvoy',
      headSha: HEAD,
      result: await validateConfigDir(dir),
      detailsUrl: 'https://hub.example/',
    });

    expect(result).toEqual({ checkRunId: RUN_ID, conclusion: 'failure', requests: 1 });
    const create = github.requests[1]!.body!;
    expect(create).toMatchObject({ conclusion: 'failure', details_url: 'https://hub.example/', output: { title: '3 errors in the BitEnvoy config' } });
    expect(create.output.summary).toContain('**This commit does not take effect**: 3 errors, each annotated on its line');
    expect(create.output.summary).toContain('the last valid config stays in force');
    expect(create.output.annotations).toEqual([
      {
        path: 'strategies.yml',
        start_line: 3,
        end_line: 3,
        start_column: 11,
        end_column: 11,
        annotation_level: 'failure',
        message: '`strategies.careful.type`: expected one of `all-at-once`, `one-at-a-time`, `rolling`, `canary`, `ordered`, got `blue-green`',
        title: 'Invalid BitEnvoy config',
      },
      {
        path: 'repositories/acme/blog.yml',
        start_line: 3,
        end_line: 3,
        start_column: 5,
        end_column: 5,
        annotation_level: 'failure',
        message: 'unknown key `brnch` in `environments.staging`; did you mean `branch`?',
        title: 'Invalid BitEnvoy config',
        raw_details: expect.stringMatching(/^allowed keys: branch, group, strategy, /),
      },
      {
        path: 'repositories/acme/shop.yml',
        start_line: 5,
        end_line: 5,
        start_column: 15,
        end_column: 15,
        annotation_level: 'failure',
        message: '`environments.staging.strategy`: environment `staging` uses the strategy `carefull`, which strategies.yml does not define',
        title: 'Invalid BitEnvoy config',
        raw_details: 'defined: all-at-once, one-at-a-time, careful',
      },
    ]);
    expect(create.output.text).toContain('repositories/acme/shop.yml:5:15: environment `staging` uses the strategy `carefull`, which strategies.yml does not define\n    hint: defined: all-at-once, one-at-a-time, careful\n');
    expect(github.problems).toEqual([]);
  });

  it('sends 120 annotations as one create and two updates of 50 and 20, each update repeating title and summary', async () => {
    const github = answerGitHub(baseUrl, 2);
    const result = await reportConfigCheckRun(await installationOctokit(baseUrl), {
      owner: 'acme',
      repo: '.bitenvoy',
      headSha: HEAD,
      result: { errors: Array.from({ length: 120 }, (_, i) => issue(i)), warnings: [] },
    });

    expect(result).toEqual({ checkRunId: RUN_ID, conclusion: 'failure', requests: 3 });
    const [, create, ...updates] = github.requests;
    expect([create, ...updates].map((r) => `${r!.method} ${r!.path.replace('/api/v3', '')}`)).toEqual([
      'POST /repos/acme/.bitenvoy/check-runs',
      `PATCH /repos/acme/.bitenvoy/check-runs/${RUN_ID}`,
      `PATCH /repos/acme/.bitenvoy/check-runs/${RUN_ID}`,
    ]);
    const outputs = [create, ...updates].map((r) => r!.body!.output as Output);
    expect(outputs.map((o) => o.annotations.length)).toEqual([50, 50, 20]);
    // In order, none twice, none lost.
    expect(outputs.flatMap((o) => o.annotations.map((a) => a.message))).toEqual(Array.from({ length: 120 }, (_, i) => `\`groups.g${i}\`: problem ${i}`));
    expect(outputs[0]!.title).toBe('120 errors in the BitEnvoy config');
    for (const update of updates) {
      expect(Object.keys(update!.body!)).toEqual(['output']);
      expect(update!.body!.output).toMatchObject({ title: outputs[0]!.title, summary: outputs[0]!.summary, text: outputs[0]!.text });
    }
    expect(github.problems).toEqual([]);
  });
});

describe("the check run within GitHub's limits", () => {
  it('cuts over-long messages, hints and listings on character boundaries, and says how many issues it left out', async () => {
    const huge: ConfigIssue = { file: 'strategies.yml', path: '', line: 2, message: `${'🚀'.repeat(40_000)} end`, hint: 'é'.repeat(100_000) };
    const wide = Array.from({ length: 40 }, (_, i): ConfigIssue => ({ file: 'groups.yml', path: '', line: i + 2, column: 3, message: 'é'.repeat(3_000) }));
    const github = answerGitHub('https://api.github.com', 0);
    await reportConfigCheckRun(await installationOctokit('https://api.github.com'), { owner: 'acme', repo: '.bitenvoy', headSha: HEAD, result: { errors: [huge, ...wide], warnings: [] } });

    const { output } = github.requests[1]!.body! as { output: Output };
    const [first] = output.annotations;
    expect(bytes(huge.message)).toBeGreaterThan(160_000);
    expect(bytes(first!.message)).toBeLessThanOrEqual(64_000);
    expect(bytes(first!.message)).toBeGreaterThan(63_990);
    expect(first!.message.endsWith('🚀…')).toBe(true);
    expect(first!.message).not.toMatch(LONE_SURROGATE);
    expect(bytes(first!.raw_details!)).toBeLessThanOrEqual(64_000);
    expect(first!.raw_details!.endsWith('é…')).toBe(true);

    const text = output.text!;
    expect(bytes(text)).toBeLessThanOrEqual(65_535);
    expect(text).not.toMatch(LONE_SURROGATE);
    // Whole issues only: each listed line is one issue, cut at 4 KB; the rest are counted.
    const listed = text.split('\n').filter((l) => /^(strategies|groups)\.yml:/.test(l));
    expect(listed).toHaveLength(15);
    expect(text.endsWith('```\n\n26 more issues not shown: the text of a check run is limited to 64 KB.\n')).toBe(true);
    expect(github.problems).toEqual([]);
  });

  it('annotates at most 500 issues, errors before warnings, and says so', () => {
    const errors = Array.from({ length: 480 }, (_, i) => issue(i));
    const warnings = Array.from({ length: 40 }, (_, i): ConfigIssue => ({ ...issue(i), message: `odd ${i}` }));
    const { body, rest } = configCheckRunBody({ errors, warnings }, { headSha: HEAD });
    expect(body.output.annotations).toHaveLength(50);
    expect(rest).toHaveLength(450);
    expect(rest.filter((a) => a.annotation_level === 'warning').map((a) => a.message)).toEqual(Array.from({ length: 20 }, (_, i) => `\`groups.g${i}\`: odd ${i}`));
    expect(body.output.summary).toContain('480 errors and 40 warnings, the first 500 annotated on their lines, all listed below.');
  });
});

describe('configCheckRunBody', () => {
  it('renders errors and warnings as annotations, a Markdown summary and the issues as `bitenvoy validate` prints them', () => {
    const { body, rest } = configCheckRunBody(
      {
        errors: [
          { file: 'groups.yml', path: 'groups.web', line: 3, column: 5, message: 'unknown key `selectr` in `groups.web`; did you mean `selector`?', hint: 'allowed keys: description, selector' },
          { file: 'repositories/acme/shop.yml', path: 'environments.staging.strategy', line: 5, message: 'names ```fenced``` strategy', hint: 'defined: all-at-once' },
          { file: 'groups.yml', path: '', message: 'file not found', column: 4 },
        ],
        warnings: [{ file: 'strategies.yml', path: 'strategies.careful', line: 4, column: 11, message: 'Unresolved tag: !weird' }],
      },
      { headSha: HEAD, detailsUrl: 'https://hub.example/', now: new Date('2026-11-25T10:00:00.123Z') },
    );
    expect(rest).toEqual([]);
    expect(body).toMatchInlineSnapshot(`
      {
        "completed_at": "2026-11-25T10:00:00Z",
        "conclusion": "failure",
        "details_url": "https://hub.example/",
        "head_sha": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "name": "BitEnvoy config",
        "output": {
          "annotations": [
            {
              "annotation_level": "failure",
              "end_column": 5,
              "end_line": 3,
              "message": "unknown key \`selectr\` in \`groups.web\`; did you mean \`selector\`?",
              "path": "groups.yml",
              "raw_details": "allowed keys: description, selector",
              "start_column": 5,
              "start_line": 3,
              "title": "Invalid BitEnvoy config",
            },
            {
              "annotation_level": "failure",
              "end_line": 5,
              "message": "\`environments.staging.strategy\`: names \`\`\`fenced\`\`\` strategy",
              "path": "repositories/acme/shop.yml",
              "raw_details": "defined: all-at-once",
              "start_line": 5,
              "title": "Invalid BitEnvoy config",
            },
            {
              "annotation_level": "failure",
              "end_line": 1,
              "message": "file not found",
              "path": "groups.yml",
              "start_line": 1,
              "title": "Invalid BitEnvoy config",
            },
            {
              "annotation_level": "warning",
              "end_column": 11,
              "end_line": 4,
              "message": "\`strategies.careful\`: Unresolved tag: !weird",
              "path": "strategies.yml",
              "start_column": 11,
              "start_line": 4,
              "title": "BitEnvoy config warning",
            },
          ],
          "summary": "**This commit does not take effect**: 3 errors and 1 warning, each annotated on its line and listed below.

      - On the default branch (or the branch the hub follows, if it sets \`BITENVOY_CONFIG_BRANCH\`), the last valid config stays in force until a commit that validates is pushed.
      - On any other branch a commit never takes effect, valid or not: merge it once this check passes.",
          "text": "### Errors

      \`\`\`\`
      groups.yml:3:5: unknown key \`selectr\` in \`groups.web\`; did you mean \`selector\`?
          hint: allowed keys: description, selector
      repositories/acme/shop.yml:5: names \`\`\`fenced\`\`\` strategy
          hint: defined: all-at-once
      groups.yml: file not found
      \`\`\`\`

      ### Warnings

      \`\`\`\`
      strategies.yml:4:11: Unresolved tag: !weird
      \`\`\`\`
      ",
          "title": "3 errors in the BitEnvoy config",
        },
        "status": "completed",
      }
    `);
  });

  it('passes a valid config with warnings, saying what happens on which branch', () => {
    const { body } = configCheckRunBody({ errors: [], warnings: [{ file: 'groups.yml', path: '', line: 2, message: 'odd' }] }, { headSha: HEAD });
    expect(body.conclusion).toBe('success');
    expect(body).not.toHaveProperty('details_url');
    expect(body.output.title).toBe('The BitEnvoy config is valid (1 warning)');
    expect(body.output.summary).toBe(
      '**The config is valid.** 1 warning, each annotated on its line and listed below.\n\n' +
        '- On the default branch (or the branch the hub follows, if it sets `BITENVOY_CONFIG_BRANCH`), this commit takes effect as soon as the hub fetches it.\n' +
        '- On any other branch a commit never takes effect, valid or not: merge it once this check passes.',
    );
    expect(body.output.annotations).toEqual([{ path: 'groups.yml', start_line: 2, end_line: 2, annotation_level: 'warning', message: 'odd', title: 'BitEnvoy config warning' }]);
  });
});
