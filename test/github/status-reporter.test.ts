/**
 * The status reporter coalesces progress (one request in flight, progress at most every `minIntervalMs`) but sends a
 * rollout's final state at once — even while a progress status waits for its turn.
 */
import { describe, expect, it } from 'vitest';
import { GitHubStatusReporter, type StatusOctokit } from '../../app/github/status-reporter.js';
import type { DeploymentRecord } from '../../app/model.js';
import { silentLogger } from '../../lib/logger.js';
import { loadGitHubContract } from '../../testbed/github-contract.js';

function deployment(state: DeploymentRecord['state'], description: string): DeploymentRecord {
  const at = '2026-12-05T00:00:00.000Z';
  return {
    id: 'dep_1', repository: 'acme/shop', environment: 'staging', ref: 'main', sha: 'a'.repeat(40), state, description,
    strategy: 'all-at-once', group: 'web', configSha: 'c'.repeat(40), batches: [], currentBatch: 0, skipped: [],
    createdBy: 'test', createdAt: at, updatedAt: at,
    github: { installationId: 1, owner: 'acme', repo: 'shop', deploymentId: 7, cloneUrl: 'https://github.com/acme/shop.git' },
  };
}

describe('GitHubStatusReporter', () => {
  it('sends the final state at once although a progress status waits for its interval', async () => {
    const contract = await loadGitHubContract('api.github.com');
    const sent: Array<{ state: unknown; description: unknown; at: number }> = [];
    const octokit: StatusOctokit = {
      async request(route, params) {
        const { owner, repo, deployment_id, ...body } = params as Record<string, unknown>;
        const [method, path] = route.split(' ') as [string, string];
        expect(contract.problems(method, path.replace('{owner}', String(owner)).replace('{repo}', String(repo)).replace('{deployment_id}', String(deployment_id)), body)).toEqual([]);
        sent.push({ state: body.state, description: body.description, at: Date.now() });
        return {};
      },
    };
    const reporter = new GitHubStatusReporter({ octokitFor: async () => octokit, log: silentLogger(), publicUrl: 'https://hub.example', minIntervalMs: 10_000 });
    reporter.changed(deployment('in_progress', '0/2 servers · batch 1/1'));
    await reporter.idle().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 20));
    // Progress inside the interval waits; the final state must not wait behind it.
    reporter.changed(deployment('in_progress', '1/2 servers · batch 1/1'));
    const ended = Date.now();
    reporter.changed(deployment('success', '2/2 servers deployed'));
    await reporter.idle();
    expect(sent.map((s) => s.state)).toEqual(['in_progress', 'success']);
    expect(sent[1]!.at - ended).toBeLessThan(1000);
  });
});
