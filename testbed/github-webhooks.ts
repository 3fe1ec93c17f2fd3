/**
 * Webhook deliveries as GitHub makes them: GitHub's own example payloads (`@octokit/webhooks-examples`) with this
 * testbed's repository, commit and installation put in, signed with the App's webhook secret
 * (`X-Hub-Signature-256`), posted to the hub.
 *
 * @example
 * const body = webhookPayload('push', undefined, { ref: 'refs/heads/main', after: sha }, repo, 1);
 * await deliverWebhook(hubWebhookUrl, secret, 'push', body);
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

type Json = Record<string, unknown>;
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: Json[] }>;

/** The repository fields webhook payloads carry, for a repository served by the testbed's git server. */
export function repositoryPayload(fullName: string, gitUrl: string, defaultBranch = 'main'): Json {
  const [owner, name] = fullName.split('/') as [string, string];
  const base = structuredClone(examples.find((e) => e.name === 'push')!.examples[0]!.repository) as Json;
  return {
    ...base,
    id: idFor(fullName),
    name,
    full_name: fullName,
    owner: { ...(base.owner as Json), login: owner, name: owner },
    clone_url: `${gitUrl}/${fullName}.git`,
    git_url: `${gitUrl.replace(/^http/, 'git')}/${fullName}.git`,
    html_url: `${gitUrl}/${fullName}`,
    ssh_url: `git@testbed:${fullName}.git`,
    default_branch: defaultBranch,
    master_branch: defaultBranch,
  };
}

/** GitHub's example for `event` (and `action`), with `fields` and the repository and installation replaced. */
export function webhookPayload(event: string, action: string | undefined, fields: Json, repository: Json, installationId: number): Json {
  const group = examples.find((e) => e.name === event);
  if (!group) throw new Error(`@octokit/webhooks-examples has no ${event} event`);
  const example = group.examples.find((e) => action === undefined || e.action === action);
  if (!example) throw new Error(`@octokit/webhooks-examples has no ${event}.${action}`);
  return { ...structuredClone(example), ...fields, repository, installation: { id: installationId, node_id: `MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u${installationId}` } };
}

/** `installation.created` for an account: GitHub's example with the account's login and the installation id. */
export function installationPayload(login: string, id: number): Json {
  const example = structuredClone(examples.find((e) => e.name === 'installation')!.examples.find((e) => e.action === 'created')!);
  const installation = example.installation as Json;
  return { ...example, installation: { ...installation, id, account: { ...(installation.account as Json), login } } };
}

export interface Delivery {
  id: string;
  event: string;
  body: string;
}

/** Signs and posts one delivery; resolves with the hub's HTTP status. */
export async function deliverWebhook(url: string, secret: string, delivery: Delivery, signatureSecret = secret): Promise<number> {
  const signature = `sha256=${createHmac('sha256', signatureSecret).update(delivery.body).digest('hex')}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': delivery.event, 'x-github-delivery': delivery.id, 'x-hub-signature-256': signature, 'user-agent': 'GitHub-Hookshot/testbed' },
    body: delivery.body,
  });
  await res.arrayBuffer();
  return res.status;
}

export function newDelivery(event: string, payload: Json): Delivery {
  return { id: randomUUID(), event, body: JSON.stringify(payload) };
}

function idFor(text: string): number {
  let h = 0;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 100_000 + (h % 900_000);
}
