/**
 * GCP discovery: one scope per project, listing every Compute Engine instance in every zone with the documented
 * aggregated list, `GET https://compute.googleapis.com/compute/v1/projects/{project}/aggregated/instances`, page by
 * page through `nextPageToken`. Plain REST with an injected bearer token (the hub passes token-gcp.ts: a
 * service-account key's token, or the metadata server's), so no Google SDK is needed here.
 *
 * Minimum read-only permission: `compute.instances.list` on each project, e.g. the predefined role
 * `roles/compute.viewer` (Compute Viewer) for the hub's service account; token scope
 * `https://www.googleapis.com/auth/compute.readonly` (or `cloud-platform`).
 *
 * Mapping: account = project id, zone = last segment of `zone`, region = the zone without its last `-x`, instanceId =
 * the numeric `id` (as a string), instanceType = last segment of `machineType`, privateIp = the first network
 * interface's `networkIP`, tags = `labels`, raw. GCP network tags (`tags.items`, a list of firewall targets) are not
 * exposed: they are not key/value, and mixing them into `tags` would collide with labels of the same name.
 *
 * @example
 * const scopes = gcpScopes({ projects: ['shop-prod'], getAccessToken: async () => (await auth.getAccessToken()) ?? '' });
 * await scopes[0].list(); // every instance of shop-prod, or a rejection naming gcp/shop-prod and what to fix
 */
import type { ScopeState } from './cloud-facts.js';
import type { CloudInstance, DiscoveryScope } from './cloud-instance.js';
import { getAllPages, type GetAccessToken, type JsonApi, type ProviderFailure } from './discovery-http.js';
import { objectAt, objectsAt, stringAt, stringMapAt, stringsAt, type JsonObject } from './discovery-json.js';

const API = 'https://compute.googleapis.com/compute/v1';

export interface GcpScopeOptions {
  /** Project ids (not numbers), e.g. `shop-prod`. */
  projects: string[];
  getAccessToken: GetAccessToken;
}

export type GcpScope = DiscoveryScope & Pick<ScopeState, 'account'>;

/** One discovery scope per project. */
export function gcpScopes(options: GcpScopeOptions): GcpScope[] {
  return options.projects.map((project) => {
    const api: JsonApi = { scopeId: `gcp/${project}`, getAccessToken: options.getAccessToken, remedy: (f) => remedy(project, f), isThrottled };
    return { id: api.scopeId, provider: 'gcp', account: project, list: (signal) => listProject(api, project, signal) };
  });
}

async function listProject(api: JsonApi, project: string, signal?: AbortSignal): Promise<CloudInstance[]> {
  const first = new URL(`${API}/projects/${encodeURIComponent(project)}/aggregated/instances`);
  // With partial success a zone that cannot answer is named (in `unreachables` and its own warning) instead of failing
  // the whole request anonymously, so the rejection below can say which zone it was.
  first.searchParams.set('returnPartialSuccess', 'true');
  // Checked before asking for the next page: an incomplete page already dooms the listing.
  const next = (page: JsonObject, url: URL): URL | undefined => {
    assertComplete(api.scopeId, page);
    return nextPage(page, url);
  };
  const pages = await getAllPages(api, first, next, signal);
  // `items` is keyed by scope (`zones/europe-west1-b`, also `regions/…`); only zones hold instances.
  const scopedLists = pages.flatMap((page) => Object.values(objectAt(page, 'items') ?? {}));
  return scopedLists.flatMap((scoped) => objectsAt(scoped, 'instances').flatMap((instance) => toInstance(project, instance)));
}

function nextPage(page: JsonObject, url: URL): URL | undefined {
  const token = stringAt(page, 'nextPageToken');
  if (!token) return undefined;
  const next = new URL(url);
  next.searchParams.set('pageToken', token);
  return next;
}

/**
 * A zone that could not be listed makes the listing incomplete, and an incomplete listing is rejected: committing it
 * would drop that zone's instances, and agents there would lose their `cloud.*` facts (or, worse, a `NotIn` selector
 * would start matching them). Rejected, the last good snapshot stays until it goes stale and says why.
 * `NO_RESULTS_ON_PAGE` only means "no instances in this zone on this page" and is fine.
 */
function assertComplete(scopeId: string, page: JsonObject): void {
  const unreachable = new Set(stringsAt(page, 'unreachables'));
  for (const [scope, scoped] of Object.entries(objectAt(page, 'items') ?? {})) {
    if (stringAt(scoped, 'warning', 'code') === 'UNREACHABLE') unreachable.add(scope);
  }
  if (stringAt(page, 'warning', 'code') === 'UNREACHABLE') unreachable.add(stringAt(page, 'warning', 'message') ?? 'part of the project');
  if (unreachable.size === 0) return;
  throw new Error(`${scopeId}: Compute Engine could not list ${[...unreachable].join(', ')}; the listing is incomplete, so the last good one stays — usually a zone outage that passes, retried on the next refresh`);
}

function toInstance(project: string, instance: JsonObject): CloudInstance[] {
  // `id` is a uint64, sent as a string; a number would lose precision, so only a string is accepted.
  const id = stringAt(instance, 'id');
  const zone = lastSegment(stringAt(instance, 'zone'));
  if (!id || !zone) return [];
  const machineType = lastSegment(stringAt(instance, 'machineType'));
  const privateIp = objectsAt(instance, 'networkInterfaces').flatMap((nic) => stringAt(nic, 'networkIP') ?? [])[0];
  return [{
    provider: 'gcp',
    account: project,
    region: zone.replace(/-[^-]+$/, ''),
    zone,
    instanceId: id,
    ...(machineType ? { instanceType: machineType } : {}),
    ...(privateIp ? { privateIp } : {}),
    tags: stringMapAt(instance, 'labels'),
  }];
}

/** `https://www.googleapis.com/compute/v1/projects/p/zones/europe-west1-b` → `europe-west1-b`. */
function lastSegment(url: string | undefined): string | undefined {
  return url?.split('/').pop() || undefined;
}

function isThrottled(failure: ProviderFailure): boolean {
  return failure.code === 'RESOURCE_EXHAUSTED' || failure.reasons.some((r) => r === 'rateLimitExceeded' || r === 'userRateLimitExceeded');
}

function remedy(project: string, failure: ProviderFailure): string {
  switch (failure.status) {
    case 401:
      return "the access token was refused: check the hub's Google credentials (service account key, workload identity or metadata server)";
    case 403:
      return `the hub's service account needs compute.instances.list on project ${project} (roles/compute.viewer), and the Compute Engine API must be enabled there`;
    case 400:
    case 404:
      return `no project ${project} is visible: check the project id (not its number or name) in the hub's discovery settings`;
    default:
      return failure.status >= 500 ? 'a Google-side error; retried on the next refresh' : 'see the message from Google';
  }
}
