/**
 * The contract check itself must catch what GitHub would refuse, or every GitHub test built on it proves nothing.
 */
import { describe, expect, it } from 'vitest';
import { loadGitHubContract, type GitHubFlavour } from '../../testbed/github-contract.js';

describe.each<GitHubFlavour>(['api.github.com', 'ghes-3.19'])('GitHub contract (%s)', (flavour) => {
  const statuses = '/repos/acme/shop/deployments/42/statuses';

  it('accepts a deployment status GitHub accepts', async () => {
    const github = await loadGitHubContract(flavour);
    expect(github.problems('POST', statuses, { state: 'in_progress', description: '1/2 servers · batch 1/2', log_url: 'https://hub.example/deployments/dep_1', environment_url: 'https://staging.example' })).toEqual([]);
    expect(github.problems('POST', `/api/v3${statuses}`, { state: 'success' })).toEqual([]);
  });

  it('refuses a state GitHub does not know, and a description over 140 characters', async () => {
    const github = await loadGitHubContract(flavour);
    expect(github.problems('POST', statuses, { state: 'done' }).join('\n')).toMatch(/body\/state must be equal to one of the allowed values/);
    expect(github.problems('POST', statuses, { state: 'success', description: 'x'.repeat(141) }).join('\n')).toMatch(/body\/description must NOT have more than 140 characters/);
  });

  it('refuses a deployment without its required ref, and operations GitHub does not have', async () => {
    const github = await loadGitHubContract(flavour);
    expect(github.problems('POST', '/repos/acme/shop/deployments', { environment: 'staging' }).join('\n')).toMatch(/must have required property 'ref'/);
    expect(github.problems('POST', '/repos/acme/shop/deployments', { ref: 'a'.repeat(40), environment: 'staging', auto_merge: false, required_contexts: [] })).toEqual([]);
    expect(github.problems('DELETE', '/repos/acme/shop/deployments/1/statuses')).toEqual([`${flavour}: DELETE is not allowed on /repos/{owner}/{repo}/deployments/{deployment_id}/statuses`]);
    expect(github.problems('GET', '/repos/acme/shop/deploy-now')).toEqual([`${flavour}: no operation for path /repos/acme/shop/deploy-now`]);
  });

  it('accepts the listings the outbox reads before sending again, and refuses a query parameter GitHub does not have', async () => {
    const github = await loadGitHubContract(flavour);
    // A create whose answer was lost: the deployments of that commit and environment (create-github-deployment.ts).
    expect(github.problems('GET', `/repos/acme/shop/deployments?sha=${'a'.repeat(40)}&environment=staging&per_page=100&page=1`)).toEqual([]);
    // A reply whose answer was lost: the pull request's comments since it was queued (reply-effect.ts).
    expect(github.problems('GET', '/repos/acme/shop/issues/12/comments?since=2026-12-05T10%3A00%3A00Z&per_page=100&page=2')).toEqual([]);
    expect(github.problems('GET', '/repos/acme/shop/deployments?environments=staging')).toEqual([
      `${flavour}: GET /repos/{owner}/{repo}/deployments: no query parameter \`environments\` (it has sha, ref, task, environment, per_page, page)`,
    ]);
    expect(github.problems('GET', '/repos/acme/shop/issues/12/comments?since=yesterday&page=two').join('\n')).toMatch(/query `since` must be an ISO 8601 time, got yesterday\n.*query `page` must be an integer, got two/);
  });
});
