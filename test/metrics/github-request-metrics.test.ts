/**
 * Every request to GitHub is counted by method, route template and status, and the rate limit GitHub says is left
 * is kept per installation: a real Octokit (Probot's class with the plugin) against a local HTTP server playing
 * GitHub.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProbotOctokit } from 'probot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { githubRequestMetrics, routeOf } from '../../app/metrics/github-request-metrics.js';
import { HubMetrics } from '../../app/metrics/hub-metrics.js';
import type { Store } from '../../app/store/store.js';

let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/repos/acme/shop/deployments')) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-remaining': '4321' }).end('[]');
    } else {
      res.writeHead(404, { 'content-type': 'application/json', 'x-ratelimit-remaining': '4320' }).end(JSON.stringify({ message: 'Not Found' }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('GitHub request metrics', () => {
  it('counts requests by route template and status, and keeps the rate limit left per installation', async () => {
    // The store is not read for these metrics; the gauges that read it are left out of this scrape.
    const metrics = new HubMetrics({ store: {} as Store, lostAfterMs: 180_000, processMetrics: false });
    const Octokit = ProbotOctokit.plugin(githubRequestMetrics(metrics)).defaults({ retry: { enabled: false }, throttle: { enabled: false } });
    const octokit = new Octokit({ baseUrl, auth: { installationId: 42 } as never, authStrategy: (() => ({ hook: (request: (o: unknown) => unknown, options: unknown) => request(options) })) as never });
    await octokit.request('GET /repos/{owner}/{repo}/deployments', { owner: 'acme', repo: 'shop', sha: 'abc' });
    await octokit.request('GET /repos/{owner}/{repo}/deployments', { owner: 'acme', repo: 'shop' });
    await expect(octokit.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { owner: 'acme', repo: 'gone', pull_number: 7 })).rejects.toMatchObject({ status: 404 });
    const text = await metrics.registry.getSingleMetricAsString('bitenvoy_github_requests_total');
    expect(text).toContain('bitenvoy_github_requests_total{method="GET",route="/repos/{owner}/{repo}/deployments",status="200"} 2');
    expect(text).toContain('bitenvoy_github_requests_total{method="GET",route="/repos/{owner}/{repo}/pulls/{pull_number}",status="404"} 1');
    // Never the filled-in URL: names and numbers would make the label space endless.
    expect(text).not.toContain('acme');
    expect(await metrics.registry.getSingleMetricAsString('bitenvoy_github_rate_limit_remaining')).toContain('bitenvoy_github_rate_limit_remaining{installation="42"} 4320');
  });

  it('names a pagination link by one value, not by its URL', () => {
    expect(routeOf('https://api.github.com/repositories/1/deployments?page=2')).toBe('(next page)');
    expect(routeOf('/repos/{owner}/{repo}/issues/{issue_number}/comments?per_page=100')).toBe('/repos/{owner}/{repo}/issues/{issue_number}/comments');
  });
});
