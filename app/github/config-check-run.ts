/**
 * The "BitEnvoy config" Check Run: every pushed commit of the config repo gets one, so a pull request that edits the
 * config shows each error on its line (file, line, message, hint) before anything merges. GitHub takes at most 50
 * annotations per request: the rest follow by updating the run, 50 at a time. The hub sends it through the GitHub
 * outbox (github-outbox.ts) as one effect, `bitenvoy:config-check-run`, whose row records the run's id once GitHub
 * created it and drops each batch of annotations once GitHub took it: a retry sends only what is left.
 *
 * @example
 * const result = await validateConfigDir(checkout);
 * await reportConfigCheckRun(octokit, { owner: 'acme', repo: '.bitenvoy', headSha, result });
 */
import { BitEnvoyError } from '../../lib/errors.js';
import { formatIssues, type ConfigIssue } from '../../config-schema/validate-config-dir.js';
import type { EffectKind } from './github-outbox.js';

export const CONFIG_CHECK_NAME = 'BitEnvoy config';

/** GitHub refuses more in one create or update request. */
export const ANNOTATIONS_PER_REQUEST = 50;
/** 10 requests at most per push: past this many issues the line-by-line view stops helping anyway. */
export const MAX_ANNOTATIONS = 500;
/** GitHub documents "65535 characters" for `summary` and `text` but refuses more than 65535 bytes (github/docs#35252). */
const MAX_MARKDOWN_BYTES = 65_535;
/** "64 KB" for `message` and `raw_details`: read as 64,000 bytes, so the cut holds whichever KB GitHub means. */
const MAX_ANNOTATION_BYTES = 64_000;
/** One listed issue in `text`, so that a single giant message cannot crowd out all the others. */
const MAX_LISTED_ISSUE_BYTES = 4_096;
const ELLIPSIS = '…';

/** One annotation as the Checks API takes it. */
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

/** The body of `POST /repos/{owner}/{repo}/check-runs`. */
export interface ConfigCheckRunBody {
  name: string;
  head_sha: string;
  status: 'completed';
  conclusion: 'success' | 'failure';
  completed_at: string;
  details_url?: string;
  output: { title: string; summary: string; text?: string; annotations: CheckAnnotation[] };
}

/** The part of an Octokit used here; Probot's installation Octokit fits. */
export interface CheckRunOctokit {
  request(route: string, params: Record<string, unknown>): Promise<unknown>;
}

type Result = { errors: ConfigIssue[]; warnings: ConfigIssue[] };

/**
 * The body that creates the run, carrying the first 50 annotations, and the annotations still to send. Pure; `now`
 * only makes `completed_at` predictable.
 *
 * @example
 * const { body, rest } = configCheckRunBody(await validateConfigDir(dir), { headSha });
 * body.conclusion; // 'failure'
 * body.output.annotations[0]; // { path: 'groups.yml', start_line: 3, annotation_level: 'failure', … }
 */
export function configCheckRunBody(result: Result, options: { headSha: string; detailsUrl?: string; now?: Date }): { body: ConfigCheckRunBody; rest: CheckAnnotation[] } {
  // Errors first: when the cap cuts, warnings are what goes unannotated.
  const all = [...result.errors.map((i) => annotation(i, 'failure')), ...result.warnings.map((i) => annotation(i, 'warning'))];
  const annotations = all.slice(0, MAX_ANNOTATIONS);
  const failed = result.errors.length > 0;
  const text = issuesText(result);
  const body: ConfigCheckRunBody = {
    name: CONFIG_CHECK_NAME,
    head_sha: options.headSha,
    status: 'completed',
    conclusion: failed ? 'failure' : 'success',
    // GitHub documents `YYYY-MM-DDTHH:MM:SSZ`; milliseconds add nothing.
    completed_at: (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(options.detailsUrl ? { details_url: options.detailsUrl } : {}),
    output: {
      // Short by construction (a count and fixed words), so never cut.
      title: failed ? `${count(result.errors.length, 'error')} in the BitEnvoy config` : `The BitEnvoy config is valid${result.warnings.length ? ` (${count(result.warnings.length, 'warning')})` : ''}`,
      summary: clipBytes(summaryOf(result, all.length), MAX_MARKDOWN_BYTES),
      ...(text ? { text } : {}),
      annotations: annotations.slice(0, ANNOTATIONS_PER_REQUEST),
    },
  };
  return { body, rest: annotations.slice(ANNOTATIONS_PER_REQUEST) };
}

/** The outbox kind of the check run (see github-outbox.ts): its create and its updates are one effect. */
export const CONFIG_CHECK_RUN_EFFECT = 'bitenvoy:config-check-run';

/**
 * Everything the check run's requests need, as stored in the outbox row. Once GitHub created the run, `checkRunId`
 * is recorded; after each update, `rest` loses the annotations it carried. So a retry — after a failure or a
 * restart — sends only what is left: the create only if GitHub never took it, then the remaining updates.
 */
export interface ConfigCheckRunParams {
  owner: string;
  repo: string;
  body: ConfigCheckRunBody;
  /** The annotations not sent yet (past the first 50, which the create carries). */
  rest: CheckAnnotation[];
  checkRunId?: number;
}

/**
 * The outbox effect of one check run, and its conclusion. Pure but for the clock (`completed_at` is now: when the
 * validation ran, not when GitHub was reached).
 *
 * @example
 * const { params, conclusion } = configCheckRunEffect({ owner: 'acme', repo: '.bitenvoy', headSha, result });
 * await outbox.enqueue(installationId, CONFIG_CHECK_RUN_EFFECT, params);
 */
export function configCheckRunEffect(args: { owner: string; repo: string; headSha: string; result: Result; detailsUrl?: string }): {
  params: ConfigCheckRunParams;
  conclusion: 'success' | 'failure';
} {
  const { body, rest } = configCheckRunBody(args.result, { headSha: args.headSha, ...(args.detailsUrl ? { detailsUrl: args.detailsUrl } : {}) });
  return { params: { owner: args.owner, repo: args.repo, body, rest }, conclusion: body.conclusion };
}

/**
 * Sends what is left of a check run: creates it unless `checkRunId` says GitHub already did, then appends the
 * remaining annotations, 50 per update. `progress` gets the params after each request GitHub took.
 *
 * @example
 * const { checkRunId, requests } = await sendConfigCheckRun(octokit, params, (next) => saveInRow(next));
 */
export async function sendConfigCheckRun(
  octokit: CheckRunOctokit,
  params: ConfigCheckRunParams,
  progress: (params: ConfigCheckRunParams) => Promise<void> = async () => undefined,
): Promise<{ checkRunId: number; requests: number }> {
  const { owner, repo, body } = params;
  let { rest, checkRunId } = params;
  let requests = 0;
  if (checkRunId === undefined) {
    const res = (await octokit.request('POST /repos/{owner}/{repo}/check-runs', { owner, repo, ...body })) as { data?: { id?: unknown } };
    requests++;
    const id = res.data?.id;
    if (typeof id !== 'number') {
      throw new BitEnvoyError('BE_INTERNAL', `GitHub created the "${CONFIG_CHECK_NAME}" check run on ${owner}/${repo}@${body.head_sha.slice(0, 7)} but its answer has no numeric id`);
    }
    checkRunId = id;
    await progress({ ...params, checkRunId });
  }
  while (rest.length) {
    // GitHub requires title and summary on every update; text is repeated too so that no update can blank it.
    // The annotations are appended to those already on the run.
    const { title, summary, text } = body.output;
    await octokit.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
      owner,
      repo,
      check_run_id: checkRunId,
      output: { title, summary, ...(text ? { text } : {}), annotations: rest.slice(0, ANNOTATIONS_PER_REQUEST) },
    });
    requests++;
    rest = rest.slice(ANNOTATIONS_PER_REQUEST);
    await progress({ ...params, checkRunId, rest });
  }
  return { checkRunId, requests };
}

/** The check run as an outbox kind: its params are re-checked, since a row may come from another release. */
export const configCheckRunKind: EffectKind = {
  run: async (octokit, params, progress) => {
    await sendConfigCheckRun(octokit, checkParams(params), (next) => progress({ ...next }));
  },
  describe: (params) => {
    const sha = (params.body as { head_sha?: unknown } | undefined)?.head_sha;
    return `the "${CONFIG_CHECK_NAME}" check run on ${String(params.owner)}/${String(params.repo)}@${typeof sha === 'string' ? sha.slice(0, 7) : '?'}`;
  },
  permission: 'Checks: write',
};

function checkParams(params: Record<string, unknown>): ConfigCheckRunParams {
  const body = params.body as Partial<ConfigCheckRunBody> | undefined;
  const ok =
    typeof params.owner === 'string' &&
    typeof params.repo === 'string' &&
    typeof body?.head_sha === 'string' &&
    typeof body.output?.title === 'string' &&
    Array.isArray(params.rest) &&
    (params.checkRunId === undefined || typeof params.checkRunId === 'number');
  if (!ok) throw new BitEnvoyError('BE_INTERNAL', `a stored "${CONFIG_CHECK_NAME}" check run lacks owner, repo, body, rest or a numeric checkRunId; push to the config repo again to get a new one`);
  return params as unknown as ConfigCheckRunParams;
}

/**
 * Creates the completed check run on `headSha` at once (no outbox), then appends the annotations that did not fit,
 * 50 per update.
 *
 * @example
 * const { conclusion, requests } = await reportConfigCheckRun(octokit, { owner: 'acme', repo: '.bitenvoy', headSha, result });
 * // 120 errors → conclusion 'failure', requests 3 (one create, two updates)
 */
export async function reportConfigCheckRun(
  octokit: CheckRunOctokit,
  args: { owner: string; repo: string; headSha: string; result: Result; detailsUrl?: string },
): Promise<{ checkRunId: number; conclusion: 'success' | 'failure'; requests: number }> {
  const { params, conclusion } = configCheckRunEffect(args);
  const { checkRunId, requests } = await sendConfigCheckRun(octokit, params);
  return { checkRunId, conclusion, requests };
}

function annotation(issue: ConfigIssue, level: CheckAnnotation['annotation_level']): CheckAnnotation {
  // GitHub wants a line for every annotation: an issue about a whole file (or a missing one) goes on line 1.
  const line = positive(issue.line);
  const column = line ? positive(issue.column) : undefined;
  // Most validator messages already name the offending key; prefixing it again would only repeat it.
  const located = issue.path && !issue.message.includes(issue.path) ? `\`${issue.path}\`: ${issue.message}` : issue.message;
  return {
    path: issue.file,
    start_line: line ?? 1,
    end_line: line ?? 1,
    // Columns are allowed only on a one-line annotation, which every config issue is.
    ...(column ? { start_column: column, end_column: column } : {}),
    annotation_level: level,
    message: clipBytes(located, MAX_ANNOTATION_BYTES),
    title: level === 'failure' ? 'Invalid BitEnvoy config' : 'BitEnvoy config warning',
    ...(issue.hint ? { raw_details: clipBytes(issue.hint, MAX_ANNOTATION_BYTES) } : {}),
  };
}

function summaryOf(result: Result, annotated: number): string {
  const issues = [result.errors.length ? count(result.errors.length, 'error') : '', result.warnings.length ? count(result.warnings.length, 'warning') : ''].filter(Boolean).join(' and ');
  const where = annotated > MAX_ANNOTATIONS ? `the first ${MAX_ANNOTATIONS} annotated on their lines, all listed below` : 'each annotated on its line and listed below';
  const lead = result.errors.length
    ? `**This commit does not take effect**: ${issues}, ${where}.`
    : `**The config is valid.**${issues ? ` ${issues}, ${where}.` : ''}`;
  const branch = 'the default branch (or the branch the hub follows, if it sets `BITENVOY_CONFIG_BRANCH`)';
  const effect = result.errors.length
    ? `- On ${branch}, the last valid config stays in force until a commit that validates is pushed.`
    : `- On ${branch}, this commit takes effect as soon as the hub fetches it.`;
  return `${lead}\n\n${effect}\n- On any other branch a commit never takes effect, valid or not: merge it once this check passes.`;
}

/**
 * Every issue as `bitenvoy validate` prints it, in a code block per level. Whole issues only: when GitHub's size limit
 * is reached the rest are counted, never cut mid-line or mid-character.
 */
function issuesText(result: Result): string | undefined {
  const sections = [
    { heading: 'Errors', issues: result.errors },
    { heading: 'Warnings', issues: result.warnings },
  ].filter((s) => s.issues.length);
  if (!sections.length) return undefined;
  const entries = sections.map((s) => ({ heading: s.heading, lines: s.issues.map((i) => clipBytes(formatIssues([i]), MAX_LISTED_ISSUE_BYTES)) }));
  // A fence longer than any run of backticks inside, so that no message can close the block early.
  const longestRun = Math.max(0, ...entries.flatMap((e) => e.lines.flatMap((l) => (l.match(/`+/g) ?? []).map((run) => run.length))));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  const total = entries.reduce((n, e) => n + e.lines.length, 0);
  // Room for closing a block and for the "not shown" line, however the listing ends.
  const budget = MAX_MARKDOWN_BYTES - 2 * (fence.length + 1) - 200;
  const parts: string[] = [];
  let used = 0;
  let shown = 0;
  outer: for (const { heading, lines } of entries) {
    const open = `${parts.length ? '\n' : ''}### ${heading}\n\n${fence}\n`;
    let opened = false;
    for (const line of lines) {
      const piece = `${opened ? '' : open}${line}\n`;
      const size = Buffer.byteLength(piece);
      if (used + size > budget) {
        if (opened) parts.push(`${fence}\n`);
        break outer;
      }
      parts.push(piece);
      used += size;
      shown++;
      opened = true;
    }
    parts.push(`${fence}\n`);
  }
  if (shown < total) parts.push(`\n${count(total - shown, 'more issue')} not shown: the text of a check run is limited to 64 KB.\n`);
  return parts.join('');
}

function positive(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && n >= 1 ? n : undefined;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Cuts to at most `max` UTF-8 bytes on a character boundary (never half a character or surrogate pair), marked with `…`. */
function clipBytes(text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max - Buffer.byteLength(ELLIPSIS);
  // Step back over continuation bytes (10xxxxxx) to the first byte of the character that does not fit.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8') + ELLIPSIS;
}
