/**
 * The Probot app: GitHub events in, plain functions do the work. Handlers stay thin — read the event, return early
 * when it is not ours, call a function that takes its dependencies as parameters.
 */
import type { ApplicationFunction } from 'probot';
import type { RolloutEngine } from '../rollout/rollout-engine.js';
import type { Store } from '../store/store.js';
import { onDeploymentCreated, type DeploymentCreatedPayload } from './on-deployment-created.js';
import type { GitHubStatusReporter } from './status-reporter.js';

export function createAppFn(deps: { engine: RolloutEngine; store: Store; reporter: GitHubStatusReporter }): ApplicationFunction {
  return (app) => {
    app.on('deployment.created', async (context) => {
      await onDeploymentCreated(context.payload as unknown as DeploymentCreatedPayload, { ...deps, log: context.log });
    });
  };
}
