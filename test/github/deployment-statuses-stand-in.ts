/**
 * GitHub's Deployment statuses over real HTTP, for the status reporter's tests: it keeps every status it took, lists
 * them newest first, checks each request against GitHub's REST description, and can answer badly on demand — a 5xx,
 * a rate limit with its headers, a reset connection, or no answer at all — with or without having taken the status,
 * which is what a client cannot tell apart.
 *
 * @example
 * const github = await startDeploymentStatusesStandIn();
 * github.faults.set(7, [{ status: 502 }, { status: 403, headers: { 'retry-after': '1' } }]);
 * const octokit = new Octokit({ baseUrl: github.url, auth: 'ghs_test' });
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadGitHubContract } from '../../testbed/github-contract.js';

/** How GitHub answers one POST of a status. */
export interface StatusFault {
  status?: number;
  headers?: Record<string, string>;
  /** GitHub took the status although its answer says otherwise (or never arrives). */
  record?: boolean;
  /** No answer, ever. */
  hang?: boolean;
  /** The connection is cut before any answer. */
  reset?: boolean;
}

export interface HeldStatus {
  state: string;
  description: string;
  auto_inactive?: boolean;
}

export interface StatusRequest {
  method: string;
  deploymentId: number;
  query: string;
  at: number;
  answer: number | 'hang' | 'reset';
}

export interface DeploymentStatusesStandIn {
  url: string;
  /** The statuses GitHub holds per deployment id, oldest first. */
  statuses: Map<number, HeldStatus[]>;
  requests: StatusRequest[];
  /** How the next POSTs for a deployment are answered, in order; afterwards they succeed. */
  faults: Map<number, StatusFault[]>;
  /** Deployments GitHub does not have (404). */
  gone: Set<number>;
  /** Every reason GitHub would have refused a request made so far. */
  problems: string[];
  posts(deploymentId: number): StatusRequest[];
  close(): Promise<void>;
}

export async function startDeploymentStatusesStandIn(): Promise<DeploymentStatusesStandIn> {
  const contract = await loadGitHubContract('api.github.com');
  const held = new Set<ServerResponse>();
  let nextId = 1;
  const standIn: DeploymentStatusesStandIn = {
    url: '',
    statuses: new Map(),
    requests: [],
    faults: new Map(),
    gone: new Set(),
    problems: [],
    posts: (id) => standIn.requests.filter((r) => r.method === 'POST' && r.deploymentId === id),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const match = /^\/repos\/[^/]+\/[^/]+\/deployments\/(\d+)\/statuses$/.exec(url.pathname);
      const method = req.method ?? 'GET';
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      standIn.problems.push(...contract.problems(method, url.pathname, body));
      const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(json));
      };
      if (!match) {
        standIn.problems.push(`unexpected request ${method} ${url.pathname}`);
        return reply(404, { message: 'Not Found' });
      }
      const id = Number(match[1]);
      const log = (answer: StatusRequest['answer']) => standIn.requests.push({ method, deploymentId: id, query: url.search, at: Date.now(), answer });
      if (standIn.gone.has(id)) {
        log(404);
        return reply(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/deployments/statuses#create-a-deployment-status' });
      }
      const list = standIn.statuses.get(id) ?? [];
      if (method === 'GET') {
        log(200);
        const perPage = Number(url.searchParams.get('per_page') ?? 30);
        return reply(200, [...list].reverse().slice(0, perPage).map((s, i) => ({ id: list.length - i, state: s.state, description: s.description, created_at: new Date().toISOString() })));
      }
      const fault = standIn.faults.get(id)?.shift();
      if (!fault || fault.record) {
        list.push({ state: String(body?.state), description: String(body?.description ?? ''), ...(body && 'auto_inactive' in body ? { auto_inactive: Boolean(body.auto_inactive) } : {}) });
        standIn.statuses.set(id, list);
      }
      if (fault?.hang) {
        log('hang');
        held.add(res);
        return undefined;
      }
      if (fault?.reset) {
        log('reset');
        return req.socket.destroy();
      }
      const status = fault?.status ?? 201;
      log(status);
      return status === 201 ? reply(201, { id: nextId++, state: body?.state, description: body?.description }) : reply(status, { message: status >= 500 ? 'Server Error' : 'You have exceeded a secondary rate limit' }, fault?.headers);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return standIn;
}
