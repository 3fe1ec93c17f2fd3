/**
 * The "BitEnvoy config" Check Run: the real validator's issues become annotations on their lines, more than 50 go
 * out in updates, and every request is one GitHub accepts (github.com and GHES descriptions).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configCheckRunBody, reportConfigCheckRun } from '../../app/github/config-check-run.js';
import { validateConfigDir, type ConfigIssue } from '../../config-schema/validate-config-dir.js';
import { loadGitHubContract, type GitHubContract } from '../../testbed/github-contract.js';

let dir: string;
let contracts: GitHubContract[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-check-'));
  contracts = await Promise.all([loadGitHubContract('api.github.com'), loadGitHubContract('ghes-3.19')]);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/** An Octokit-shaped recorder: checks each request against GitHub's contract and answers like GitHub. */
function recorder() {
  const requests: Array<{ route: string; params: Record<string, unknown> }> = [];
  const problems: string[] = [];
  return {
    requests,
    problems,
    async request(route: string, params: Record<string, unknown>) {
      requests.push({ route, params });
      const [method, template] = route.split(' ') as [string, string];
      const { owner, repo, check_run_id, ...body } = params;
      const path = template.replace('{owner}', String(owner)).replace('{repo}', String(repo)).replace('{check_run_id}', String(check_run_id));
      problems.push(...contracts.flatMap((c) => c.problems(method, path, body)));
      return { data: { id: 55 } };
    },
  };
}

const issue = (n: number): ConfigIssue => ({ file: 'groups.yml', path: `groups.g${n}`, line: n + 1, column: 3, message: `problem ${n}`, hint: `fix ${n}` });

describe('the "BitEnvoy config" check run', () => {
  it('passes a valid config with one request and no annotations', async () => {
    await write({ 'groups.yml': 'groups:\n  web:\n    selector:\n      matchLabels: { role: web }\n' });
    const octokit = recorder();
    const result = await reportConfigCheckRun(octokit, { owner: 'acme', repo: '.bitenvoy', headSha: 'a'.repeat(40), result: await validateConfigDir(dir) });
    expect(result).toEqual({ checkRunId: 55, conclusion: 'success', requests: 1 });
    expect(octokit.requests).toHaveLength(1);
    expect(octokit.requests[0]!.params).toMatchObject({ name: 'BitEnvoy config', head_sha: 'a'.repeat(40), status: 'completed', conclusion: 'success', output: { title: 'The BitEnvoy config is valid', annotations: [] } });
    expect(octokit.problems).toEqual([]);
  });

  it("annotates the real validator's errors on their files and lines, with the hint", async () => {
    await write({
      'groups.yml': 'groups:\n  web:\n    selectr:\n      matchLabels: { role: web }\n',
      'repositories/acme/shop.yml': 'environments:\n  staging:\n    branch: main\n    group: web\n    strategy: carefull\n',
    });
    const octokit = recorder();
    const result = await reportConfigCheckRun(octokit, { owner: 'acme', repo: '.bitenvoy', headSha: 'b'.repeat(40), result: await validateConfigDir(dir), detailsUrl: 'https://hub.example/' });
    expect(result.conclusion).toBe('failure');
    const body = octokit.requests[0]!.params as { output: { title: string; annotations: Array<Record<string, unknown>> }; details_url: string };
    expect(body.details_url).toBe('https://hub.example/');
    expect(body.output.title).toMatch(/^\d+ errors? in the BitEnvoy config$/);
    expect(body.output.annotations[0]).toMatchObject({ path: 'groups.yml', start_line: 3, end_line: 3, annotation_level: 'failure' });
    expect(String(body.output.annotations[0]!.message)).toMatch(/selectr/);
    expect(body.output.annotations[0]!.raw_details).toMatch(/^hint: /);
    expect(octokit.problems).toEqual([]);
  });

  it('sends 120 annotations as one create and two updates of 50 and 20, each repeating title and summary', async () => {
    const octokit = recorder();
    const result = await reportConfigCheckRun(octokit, { owner: 'acme', repo: '.bitenvoy', headSha: 'c'.repeat(40), result: { errors: Array.from({ length: 120 }, (_, i) => issue(i)), warnings: [] } });
    expect(result.requests).toBe(3);
    expect(octokit.requests.map((r) => r.route)).toEqual(['POST /repos/{owner}/{repo}/check-runs', 'PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', 'PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}']);
    const counts = octokit.requests.map((r) => (r.params.output as { annotations: unknown[] }).annotations.length);
    expect(counts).toEqual([50, 50, 20]);
    expect(octokit.requests[2]!.params).toMatchObject({ check_run_id: 55, output: { title: '120 errors in the BitEnvoy config', summary: expect.stringContaining('does not take effect') } });
    expect(octokit.problems).toEqual([]);
  });

  it("keeps within GitHub's limits: long messages cut under 64 KB, columns only on one line, a missing line becomes line 1", () => {
    const long: ConfigIssue = { file: 'strategies.yml', path: '', message: 'é'.repeat(70_000) };
    const { body } = configCheckRunBody({ errors: [long, issue(4)], warnings: [{ file: 'groups.yml', path: '', message: 'odd', line: 2 }] }, { headSha: 'd'.repeat(40), now: new Date('2026-11-25T10:00:00Z') });
    const [first, second, warning] = body.output.annotations;
    expect(Buffer.byteLength(first!.message)).toBeLessThanOrEqual(64 * 1024);
    expect(first).toMatchObject({ start_line: 1, end_line: 1 });
    expect(first).not.toHaveProperty('start_column');
    expect(second).toMatchObject({ start_line: 5, end_line: 5, start_column: 3, end_column: 3, message: 'groups.g4: problem 4', raw_details: 'hint: fix 4' });
    expect(warning).toMatchObject({ annotation_level: 'warning', start_line: 2 });
    expect(body.output.text!.length).toBeLessThanOrEqual(65_535);
    expect(body.completed_at).toBe('2026-11-25T10:00:00.000Z');
    expect(contracts.flatMap((c) => c.problems('POST', '/repos/acme/.bitenvoy/check-runs', body))).toEqual([]);
  });
});
