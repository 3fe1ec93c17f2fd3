/**
 * The hub's GitHub side for Probot tests: a real Probot (retry and throttle off, so nock answers are seen as sent),
 * the status reporter and the rollout engine on the test's store, and the function that starts a GitHub
 * deployment's rollout. GitHub itself is the test's nock.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Probot, ProbotOctokit } from 'probot';
import { onDeploymentCreated } from '../../app/github/on-deployment-created.js';
import { GitHubStatusReporter } from '../../app/github/status-reporter.js';
import { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import type { Store } from '../../app/store/store.js';
import type { LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { silentLogger } from '../../lib/logger.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

export const HUB_URL = 'https://hub.example';

export function createGitHubAppRig(store: Store, config: () => LoadedConfig & { sha: string }) {
  const probot = new Probot({ appId: 123, privateKey, log: silentLogger(), Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
  const reporter = new GitHubStatusReporter({ octokitFor: (id) => probot.auth(id), log: silentLogger(), publicUrl: HUB_URL, minIntervalMs: 0 });
  const engine = new RolloutEngine({
    store,
    log: silentLogger(),
    settings: { leaseSeconds: 60, heartbeatSeconds: 60, pollWaitSeconds: 50, publicUrl: HUB_URL },
    config: () => config(),
    onChange: (d) => reporter.changed(d),
    resolveRef: async (_url, ref) => ref,
  });
  const startDeployment = (payload: Parameters<typeof onDeploymentCreated>[0], options?: { refuseWith?: string }) =>
    onDeploymentCreated(payload, { engine, store, reporter, log: silentLogger() }, options);
  return { probot, reporter, engine, startDeployment };
}
