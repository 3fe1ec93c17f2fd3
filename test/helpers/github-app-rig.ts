/**
 * The hub's GitHub side for Probot tests: a real Probot (retry and throttle off, so nock answers are seen as sent),
 * the status reporter and the rollout engine on the test's store, the function that starts a GitHub deployment's
 * rollout, and the GitHub outbox that creates the deployments the hub makes (and starts their rollouts with it).
 * GitHub itself is the test's nock, or — with `octokitFor` — a stand-in.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Probot, ProbotOctokit } from 'probot';
import { CREATE_DEPLOYMENT_EFFECT, createDeploymentKind } from '../../app/github/create-deployment-effect.js';
import { GitHubOutbox, type GitHubOutboxOptions } from '../../app/github/github-outbox.js';
import { onDeploymentCreated } from '../../app/github/on-deployment-created.js';
import { GitHubStatusReporter, type StatusOctokit } from '../../app/github/status-reporter.js';
import { RolloutEngine } from '../../app/rollout/rollout-engine.js';
import type { Store } from '../../app/store/store.js';
import type { LoadedConfig } from '../../config-schema/validate-config-dir.js';
import { createLogger, silentLogger } from '../../lib/logger.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

export const HUB_URL = 'https://hub.example';

export function createGitHubAppRig(
  store: Store,
  config: () => LoadedConfig & { sha: string },
  options: { octokitFor?: (installationId: number) => Promise<StatusOctokit>; outbox?: Partial<GitHubOutboxOptions> } = {},
) {
  const probot = new Probot({ appId: 123, privateKey, log: silentLogger(), Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });
  const octokitFor = options.octokitFor ?? (async (id: number): Promise<StatusOctokit> => probot.auth(id));
  const reporter = new GitHubStatusReporter({ octokitFor, log: process.env.DEBUG_RIG ? createLogger({ name: 'rig', level: 'debug' }) : silentLogger(), publicUrl: HUB_URL, minIntervalMs: 0 });
  const engine = new RolloutEngine({
    store,
    log: silentLogger(),
    settings: { leaseSeconds: 60, heartbeatSeconds: 60, pollWaitSeconds: 50, publicUrl: HUB_URL },
    config: () => config(),
    onChange: (d) => reporter.changed(d),
    resolveRef: async (_url, ref) => ref,
  });
  const startDeployment = (payload: Parameters<typeof onDeploymentCreated>[0], start?: { refuseWith?: string }) =>
    onDeploymentCreated(payload, { engine, store, reporter, log: silentLogger() }, start);
  const outbox = new GitHubOutbox({
    store,
    octokitFor,
    log: silentLogger(),
    retry: { baseMs: 10, maxMs: 50 },
    kinds: { [CREATE_DEPLOYMENT_EFFECT]: createDeploymentKind({ store, startDeployment }) },
    ...options.outbox,
  });
  return { probot, reporter, engine, startDeployment, outbox };
}
