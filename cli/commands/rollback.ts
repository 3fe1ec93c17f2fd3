/**
 * `bitenvoy rollback`: what `/rollback` does on a pull request, through the hub's admin API
 * (`POST /api/v1/environments/rollback`): the environment's previous successful commit (or the successful deployment
 * `--to` names) deployed again as a new deployment, followed like `bitenvoy deploy` follows one. Exit 0 only on
 * success.
 *
 * @example
 * bitenvoy rollback -r acme/shop -e production --to 4f2c1a9
 */
import type { DeploymentRecord } from '../../app/model.js';
import { oneLine } from '../../lib/strip-controls.js';
import { synopsis } from '../command-registry.js';
import { print } from '../output.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { follow, untilItExists } from './deploy.js';
import { parseCommand, required } from './parse-options.js';

interface Side {
  deploymentId: string;
  sha: string;
}

type Answer = { deployment: DeploymentRecord; url: string; from: Side; to: Side } | { queued: true; deploymentId: string; message: string; url: string; from: Side; to: Side };

export async function rollbackCommand(args: string[]): Promise<number> {
  const { values } = parseCommand('rollback', args);
  const usage = synopsis('rollback');
  const body = {
    repository: required(values.repository, 'repository', usage),
    environment: required(values.environment, 'environment', usage),
    ...(values.to ? { to: values.to } : {}),
  };
  const target = await resolveAdminTarget(values.hub, values.token);
  const answer = await adminRequest<Answer>(target, 'POST', '/environments/rollback', body);
  const id = 'queued' in answer ? answer.deploymentId : answer.deployment.id;
  const what = `${body.environment} from ${oneLine(answer.from.sha).slice(0, 7)} back to ${oneLine(answer.to.sha).slice(0, 7)} (as deployed by ${oneLine(answer.to.deploymentId)})`;
  if ('queued' in answer) print(`rollback of ${what} is queued: ${oneLine(answer.message)}\n${oneLine(answer.url)}`);
  else print(`rolling ${what}: deployment ${oneLine(id)}\n${oneLine(answer.url)}`);
  if (values['no-wait']) return 0;
  // A queued rollback has no rollout yet: following starts once the hub has it.
  if ('queued' in answer) await untilItExists(target, id);
  const final = await follow(target, id);
  return final.state === 'success' ? 0 : 1;
}
