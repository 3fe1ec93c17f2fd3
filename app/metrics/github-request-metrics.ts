/**
 * An Octokit plugin that counts every request to GitHub in the hub's metrics — by method, route template and status —
 * and records the rate limit GitHub says is left, per installation. Given to Probot as its Octokit class, so the App's
 * own client, every installation client and every webhook handler's `context.octokit` carry it.
 *
 * @example
 * new Probot({ …, Octokit: ProbotOctokit.plugin(githubRequestMetrics(metrics)) });
 */
import type { ProbotOctokit } from 'probot';
import type { HubMetrics } from './hub-metrics.js';

type Octokit = InstanceType<typeof ProbotOctokit>;

interface Answer {
  status?: number;
  headers?: Record<string, unknown>;
}

export function githubRequestMetrics(metrics: Pick<HubMetrics, 'githubRequest'>) {
  return (octokit: Pick<Octokit, 'hook'>, options: { auth?: unknown }): void => {
    const installation = (options.auth as { installationId?: unknown } | undefined)?.installationId;
    const installationId = typeof installation === 'number' ? installation : undefined;
    octokit.hook.wrap('request', async (request, endpoint) => {
      const method = (endpoint.method ?? 'GET').toUpperCase();
      const route = routeOf(endpoint.url);
      const note = (answer: Answer | undefined) => {
        const header = answer?.headers?.['x-ratelimit-remaining'];
        const remaining = Number(header);
        metrics.githubRequest({
          method,
          route,
          status: answer?.status,
          ...(installationId !== undefined ? { installationId } : {}),
          ...(header !== undefined && Number.isFinite(remaining) ? { rateLimitRemaining: remaining } : {}),
        });
      };
      try {
        const answer = await request(endpoint);
        note(answer as Answer);
        return answer;
      } catch (err) {
        note((err as { response?: Answer; status?: number }).response ?? { status: (err as { status?: number }).status });
        throw err;
      }
    });
  };
}

/**
 * The route template (`/repos/{owner}/{repo}/deployments`) without its query; a full URL (a pagination link, filled in
 * with names and numbers) is counted as one label value, so labels stay a closed set.
 */
export function routeOf(url: string | undefined): string {
  if (!url) return '(none)';
  if (/^[a-z]+:\/\//i.test(url)) return '(next page)';
  return url.split('?')[0]!;
}
