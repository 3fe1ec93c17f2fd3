/**
 * The "BitEnvoy config" Check Run: every pushed commit of the config repo gets one, so a pull request that edits the
 * config shows each error on its line (file, line, message, hint) before anything merges. GitHub takes at most 50
 * annotations per request: the rest follow by updating the run, 50 at a time.
 *
 * @example
 * const result = await validateConfigDir(checkout);
 * await reportConfigCheckRun(octokit, { owner: 'acme', repo: '.bitenvoy', headSha, result });
 */
import type { ConfigIssue } from '../../config-schema/validate-config-dir.js';
import type { StatusOctokit } from './status-reporter.js';

export const CONFIG_CHECK_NAME = 'BitEnvoy config';

const ANNOTATIONS_PER_REQUEST = 50;
const MAX_MARKDOWN = 65_535;
const MAX_DETAIL_BYTES = 64 * 1024;
const MAX_TITLE = 255;

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: 'failure' | 'warning';
  message: string;
  title: string;
  raw_details?: string;
}

export interface ConfigCheckRunBody {
  name: string;
  head_sha: string;
  status: 'completed';
  conclusion: 'success' | 'failure';
  completed_at: string;
  details_url?: string;
  output: { title: string; summary: string; text?: string; annotations: CheckAnnotation[] };
}

type Result = { errors: ConfigIssue[]; warnings: ConfigIssue[] };

/** The body that creates the run (with the first 50 annotations), and the annotations still to send. */
export function configCheckRunBody(result: Result, options: { headSha: string; detailsUrl?: string; now?: Date }): { body: ConfigCheckRunBody; rest: CheckAnnotation[] } {
  const annotations = [...result.errors.map((i) => annotation(i, 'failure')), ...result.warnings.map((i) => annotation(i, 'warning'))];
  const failed = result.errors.length > 0;
  const title = failed
    ? `${count(result.errors.length, 'error')} in the BitEnvoy config`
    : `The BitEnvoy config is valid${result.warnings.length ? ` (${count(result.warnings.length, 'warning')})` : ''}`;
  const summary = failed
    ? 'This commit does not take effect: on the default branch, the last valid commit stays in force until a fixed one is pushed. ' +
      'Each problem is annotated on its line below.'
    : 'Every file validates. Once on the default branch, this commit takes effect (commits on other branches never do).';
  const text = annotations.length ? annotations.map((a) => `- \`${a.path}:${a.start_line}\` ${a.message}${a.raw_details ? ` — ${a.raw_details}` : ''}`).join('\n') : undefined;
  const body: ConfigCheckRunBody = {
    name: CONFIG_CHECK_NAME,
    head_sha: options.headSha,
    status: 'completed',
    conclusion: failed ? 'failure' : 'success',
    completed_at: (options.now ?? new Date()).toISOString(),
    ...(options.detailsUrl ? { details_url: options.detailsUrl } : {}),
    output: { title: clip(title, MAX_TITLE), summary: clip(summary, MAX_MARKDOWN), ...(text ? { text: clip(text, MAX_MARKDOWN) } : {}), annotations: annotations.slice(0, ANNOTATIONS_PER_REQUEST) },
  };
  return { body, rest: annotations.slice(ANNOTATIONS_PER_REQUEST) };
}

/** Creates the check run, then appends the annotations that did not fit, 50 per update. */
export async function reportConfigCheckRun(
  octokit: StatusOctokit,
  args: { owner: string; repo: string; headSha: string; result: Result; detailsUrl?: string },
): Promise<{ checkRunId: number; conclusion: 'success' | 'failure'; requests: number }> {
  const { body, rest } = configCheckRunBody(args.result, { headSha: args.headSha, ...(args.detailsUrl ? { detailsUrl: args.detailsUrl } : {}) });
  const res = (await octokit.request('POST /repos/{owner}/{repo}/check-runs', { owner: args.owner, repo: args.repo, ...body })) as { data: { id: number } };
  let requests = 1;
  for (let i = 0; i < rest.length; i += ANNOTATIONS_PER_REQUEST) {
    // An update must repeat the title and summary; its annotations are appended to those already there.
    await octokit.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
      owner: args.owner,
      repo: args.repo,
      check_run_id: res.data.id,
      output: { title: body.output.title, summary: body.output.summary, annotations: rest.slice(i, i + ANNOTATIONS_PER_REQUEST) },
    });
    requests++;
  }
  return { checkRunId: res.data.id, conclusion: body.conclusion, requests };
}

function annotation(issue: ConfigIssue, level: CheckAnnotation['annotation_level']): CheckAnnotation {
  const line = issue.line && issue.line > 0 ? issue.line : 1;
  return {
    path: issue.file,
    start_line: line,
    end_line: line,
    ...(issue.line && issue.column ? { start_column: issue.column, end_column: issue.column } : {}),
    annotation_level: level,
    message: clipBytes(issue.path ? `${issue.path}: ${issue.message}` : issue.message),
    title: clip(level === 'failure' ? 'Invalid BitEnvoy config' : 'BitEnvoy config warning', MAX_TITLE),
    ...(issue.hint ? { raw_details: clipBytes(`hint: ${issue.hint}`) } : {}),
  };
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** GitHub counts annotation messages in bytes: cut on a character boundary under 64 KB. */
function clipBytes(text: string): string {
  if (Buffer.byteLength(text) <= MAX_DETAIL_BYTES) return text;
  let cut = text.slice(0, MAX_DETAIL_BYTES - 4);
  while (Buffer.byteLength(cut) > MAX_DETAIL_BYTES - 4) cut = cut.slice(0, -1);
  return `${cut}…`;
}
