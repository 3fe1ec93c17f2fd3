/**
 * Azure discovery: one scope per subscription, listing its virtual machines with the documented ARM REST API
 * ("Virtual Machines - List All", `GET /subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines`) and its
 * network interfaces ("Network Interfaces - List All", `…/providers/Microsoft.Network/networkInterfaces`), both paged
 * through `nextLink`, then joining each VM to its primary NIC for the private IP. Plain REST with an injected bearer
 * token (the hub passes token-azure.ts: a client secret's or the managed identity's token for ARM).
 *
 * Minimum read-only permissions: `Microsoft.Compute/virtualMachines/read` and
 * `Microsoft.Network/networkInterfaces/read` on each subscription — the built-in **Reader** role covers both.
 *
 * Mapping: account = subscription id, region = `location`, zone = `zones[0]`, instanceId = `properties.vmId` (what
 * attested data proves), instanceType = `properties.hardwareProfile.vmSize`, privateIp = the primary IP configuration
 * of the VM's primary NIC, tags raw. VMs of uniform scale sets are not in this list (they are scale set instances);
 * a NIC in another subscription leaves the VM without a private IP.
 *
 * @example
 * const scopes = azureScopes({ subscriptions: ['00000000-0000-0000-0000-000000000000'], getAccessToken });
 * await scopes[0].list();
 */
import type { ScopeState } from './cloud-facts.js';
import type { CloudInstance, DiscoveryScope } from './cloud-instance.js';
import { getAllPages, type GetAccessToken, type JsonApi, type ProviderFailure } from './discovery-http.js';
import { booleanAt, objectsAt, stringAt, stringMapAt, stringsAt, type JsonObject } from './discovery-json.js';

const COMPUTE_API_VERSION = '2024-07-01';
const NETWORK_API_VERSION = '2024-05-01';

export interface AzureScopeOptions {
  subscriptions: string[];
  getAccessToken: GetAccessToken;
  /** ARM endpoint; another one only for a sovereign cloud (e.g. `https://management.usgovcloudapi.net`). */
  endpoint?: string;
}

export type AzureScope = DiscoveryScope & Pick<ScopeState, 'account'>;

/** One discovery scope per subscription. */
export function azureScopes(options: AzureScopeOptions): AzureScope[] {
  const endpoint = new URL(options.endpoint ?? 'https://management.azure.com');
  return options.subscriptions.map((subscription) => {
    const api: JsonApi = { scopeId: `azure/${subscription}`, getAccessToken: options.getAccessToken, remedy: (f) => remedy(subscription, f) };
    return { id: api.scopeId, provider: 'azure', account: subscription, list: (signal) => listSubscription(api, endpoint, subscription, signal) };
  });
}

async function listSubscription(api: JsonApi, endpoint: URL, subscription: string, signal?: AbortSignal): Promise<CloudInstance[]> {
  const base = `/subscriptions/${encodeURIComponent(subscription)}/providers`;
  const next = nextLink(api.scopeId, endpoint);
  const vms = await getAllPages(api, listUrl(endpoint, `${base}/Microsoft.Compute/virtualMachines`, COMPUTE_API_VERSION), next, signal);
  const nics = await getAllPages(api, listUrl(endpoint, `${base}/Microsoft.Network/networkInterfaces`, NETWORK_API_VERSION), next, signal);
  const ipByNic = primaryIpByNic(nics.flatMap((page) => objectsAt(page, 'value')));
  return vms.flatMap((page) => objectsAt(page, 'value').flatMap((vm) => toInstance(subscription, vm, ipByNic)));
}

function listUrl(endpoint: URL, path: string, apiVersion: string): URL {
  const url = new URL(path, endpoint);
  url.searchParams.set('api-version', apiVersion);
  return url;
}

/**
 * `nextLink` is followed exactly as ARM gave it (it carries its own `$skiptoken` and api-version), but only while it
 * stays on the ARM endpoint: the bearer token goes with every page, and must never be handed to another host.
 */
function nextLink(scopeId: string, endpoint: URL): (page: JsonObject) => URL | undefined {
  return (page) => {
    const link = stringAt(page, 'nextLink');
    if (!link) return undefined;
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      throw new Error(`${scopeId}: ARM sent a nextLink that is not a URL; the listing is abandoned — retry later`);
    }
    if (url.origin !== endpoint.origin) throw new Error(`${scopeId}: ARM sent a nextLink to ${url.origin}, not ${endpoint.origin}; the access token is not sent there, so the listing is abandoned — check for a proxy rewriting responses`);
    return url;
  };
}

/** Lower-cased NIC id → the private IP of its primary IP configuration (ARM ids are case-insensitive). */
function primaryIpByNic(nics: JsonObject[]): Map<string, string> {
  const ips = new Map<string, string>();
  for (const nic of nics) {
    const id = stringAt(nic, 'id');
    const ipConfig = primary(objectsAt(nic, 'properties', 'ipConfigurations'));
    const ip = stringAt(ipConfig, 'properties', 'privateIPAddress');
    if (id && ip) ips.set(id.toLowerCase(), ip);
  }
  return ips;
}

function toInstance(subscription: string, vm: JsonObject, ipByNic: Map<string, string>): CloudInstance[] {
  const vmId = stringAt(vm, 'properties', 'vmId');
  const location = stringAt(vm, 'location');
  if (!vmId || !location) return [];
  const zone = stringsAt(vm, 'zones')[0];
  const vmSize = stringAt(vm, 'properties', 'hardwareProfile', 'vmSize');
  const nicId = stringAt(primary(objectsAt(vm, 'properties', 'networkProfile', 'networkInterfaces')), 'id');
  const privateIp = nicId ? ipByNic.get(nicId.toLowerCase()) : undefined;
  return [{
    provider: 'azure',
    account: subscription,
    region: location,
    ...(zone ? { zone } : {}),
    instanceId: vmId,
    ...(vmSize ? { instanceType: vmSize } : {}),
    ...(privateIp ? { privateIp } : {}),
    tags: stringMapAt(vm, 'tags'),
  }];
}

/** The entry marked `properties.primary`, else the first: ARM marks the primary only when there are several. */
function primary(entries: JsonObject[]): JsonObject | undefined {
  return entries.find((entry) => booleanAt(entry, 'properties', 'primary') === true) ?? entries[0];
}

function remedy(subscription: string, failure: ProviderFailure): string {
  switch (failure.status) {
    case 401:
      return "the access token was refused: check the hub's Azure credentials (tenant, client id and secret, or managed identity) and that the token is for https://management.azure.com/";
    case 403:
      return `the hub's identity needs Microsoft.Compute/virtualMachines/read and Microsoft.Network/networkInterfaces/read on subscription ${subscription} (the Reader role)`;
    case 400:
    case 404:
      return `check the subscription id ${subscription} in the hub's discovery settings, and that it is in the token's tenant`;
    default:
      return failure.status >= 500 ? 'an Azure-side error; retried on the next refresh' : 'see the message from Azure';
  }
}
