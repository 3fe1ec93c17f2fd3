/**
 * GitHub over real HTTP, for the tests of what the hub sends GitHub: Deployment statuses (the status reporter),
 * Deployments (their create and their listing by commit and environment), and pull-request comments (their create
 * and their listing since a time). It keeps what it took, checks each request against GitHub's REST description, and
 * can answer a POST badly on demand — a 5xx, a rate limit with its headers, a reset connection, or no answer at all —
 * with or without having taken it, which is what a client cannot tell apart. It also answers the few reads the admin
 * API's deploy makes first (the App's installation on a repository, the repository, a ref's commit).
 *
 * @example
 * const github = await startDeploymentStatusesStandIn();
 * github.faults.set(7, [{ status: 502 }, { status: 403, headers: { 'retry-after': '1' } }]);
 * github.createFaults.push({ reset: true, record: true }); // the next deployment is made, the answer never arrives
 * const octokit = new Octokit({ baseUrl: github.url, auth: 'ghs_test' });
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadGitHubContract } from '../../testbed/github-contract.js';

/** How GitHub answers one POST. */
export interface StatusFault {
  status?: number;
  headers?: Record<string, string>;
  /** GitHub took it although its answer says otherwise (or never arrives). */
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

export interface HeldDeployment {
  id: number;
  repository: string;
  sha: string;
  ref: string;
  environment: string;
  payload: unknown;
  created_at: string;
}

export interface HeldComment {
  id: number;
  repository: string;
  issue: number;
  body: string;
  created_at: string;
  updated_at: string;
}

export interface StatusRequest {
  method: string;
  path: string;
  /** The deployment a status request is about (0 for other requests). */
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
  /** How the next POSTs of statuses for a deployment are answered, in order; afterwards they succeed. */
  faults: Map<number, StatusFault[]>;
  /** Deployments GitHub does not have (404). */
  gone: Set<number>;
  /** The deployments GitHub holds, oldest first. */
  deployments: HeldDeployment[];
  /** How the next POSTs creating a deployment are answered, in order; afterwards they succeed. */
  createFaults: StatusFault[];
  /** The comments GitHub holds, oldest first. */
  comments: HeldComment[];
  /** How the next POSTs of a comment are answered, in order; afterwards they succeed. */
  commentFaults: StatusFault[];
  /** What `GET /repos/{owner}/{repo}/commits/{ref}` resolves a ref to. */
  commits: Map<string, string>;
  /** Every reason GitHub would have refused a request made so far. */
  problems: string[];
  posts(deploymentId: number): StatusRequest[];
  close(): Promise<void>;
}

/** Every repository is in this installation of the App. */
export const STAND_IN_INSTALLATION = 7;

/** A request that never answers: what a killed hub's requests are to it. */
export const never = (): Promise<never> => new Promise<never>(() => undefined);

/**
 * `octokit` as a hub that can be killed sees it: once `dead()` is true, a request sent or still out never comes back
 * to it (GitHub may well have taken it).
 */
export function killableOctokit<O extends { request(route: string, params: Record<string, unknown>): Promise<unknown> }>(octokit: O, dead: () => boolean): { request(route: string, params: Record<string, unknown>): Promise<unknown> } {
  return {
    async request(route, params) {
      if (dead()) return never();
      try {
        const answer = await octokit.request(route, params);
        return dead() ? never() : answer;
      } catch (err) {
        if (dead()) return never();
        throw err;
      }
    },
  };
}

const STATUS = /^\/repos\/[^/]+\/[^/]+\/deployments\/(\d+)\/statuses$/;
const DEPLOYMENTS = /^\/repos\/([^/]+)\/([^/]+)\/deployments$/;
const COMMENTS = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/;
const INSTALLATION = /^\/repos\/([^/]+)\/([^/]+)\/installation$/;
const COMMIT = /^\/repos\/([^/]+)\/([^/]+)\/commits\/([^/]+)$/;
const REPOSITORY = /^\/repos\/([^/]+)\/([^/]+)$/;

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
    deployments: [],
    createFaults: [],
    comments: [],
    commentFaults: [],
    commits: new Map(),
    problems: [],
    posts: (id) => standIn.requests.filter((r) => r.method === 'POST' && r.deploymentId === id),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  /** One request: its JSON answer, or — per `fault` — a failure, with `take` done first when GitHub takes it anyway. */
  function answer(req: IncomingMessage, res: ServerResponse, deploymentId: number, fault: StatusFault | undefined, take: () => [number, unknown]): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const log = (result: StatusRequest['answer']) => standIn.requests.push({ method: req.method ?? 'GET', path: url.pathname, deploymentId, query: url.search, at: Date.now(), answer: result });
    const taken = !fault || fault.record ? take() : undefined;
    if (fault?.hang) {
      log('hang');
      held.add(res);
      return;
    }
    if (fault?.reset) {
      log('reset');
      req.socket.destroy();
      return;
    }
    const [status, json] = fault?.status ? [fault.status, { message: fault.status >= 500 ? 'Server Error' : 'You have exceeded a secondary rate limit' }] : taken!;
    log(status);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...(fault?.headers ?? {}) });
    res.end(JSON.stringify(json));
  }

  const page = <T>(all: T[], url: URL): T[] => {
    const perPage = Number(url.searchParams.get('per_page') ?? 30);
    const n = Number(url.searchParams.get('page') ?? 1);
    return all.slice((n - 1) * perPage, n * perPage);
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const path = url.pathname;
      const method = req.method ?? 'GET';
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      standIn.problems.push(...contract.problems(method, `${path}${url.search}`, body));
      const ok = (json: unknown, status = 200) => answer(req, res, 0, undefined, () => [status, json]);
      let m: RegExpExecArray | null;

      if ((m = STATUS.exec(path))) {
        const id = Number(m[1]);
        if (standIn.gone.has(id)) return answer(req, res, id, undefined, () => [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/deployments/statuses#create-a-deployment-status' }]);
        const list = standIn.statuses.get(id) ?? [];
        if (method === 'GET') {
          return answer(req, res, id, undefined, () => [200, page([...list].reverse(), url).map((s, i) => ({ id: list.length - i, state: s.state, description: s.description, created_at: new Date().toISOString() }))]);
        }
        return answer(req, res, id, standIn.faults.get(id)?.shift(), () => {
          list.push({ state: String(body?.state), description: String(body?.description ?? ''), ...(body && 'auto_inactive' in body ? { auto_inactive: Boolean(body.auto_inactive) } : {}) });
          standIn.statuses.set(id, list);
          return [201, { id: nextId++, state: body?.state, description: body?.description }];
        });
      }
      if ((m = DEPLOYMENTS.exec(path))) {
        const repository = `${m[1]}/${m[2]}`;
        if (method === 'GET') {
          const sha = url.searchParams.get('sha');
          const environment = url.searchParams.get('environment');
          // Newest first, as GitHub lists them.
          const listed = standIn.deployments.filter((d) => d.repository === repository && (!sha || d.sha === sha) && (!environment || d.environment === environment)).reverse();
          return ok(page(listed, url));
        }
        return answer(req, res, 0, standIn.createFaults.shift(), () => {
          const made: HeldDeployment = { id: 900 + standIn.deployments.length + 1, repository, sha: String(body?.ref), ref: String(body?.ref), environment: String(body?.environment), payload: body?.payload ?? {}, created_at: new Date().toISOString() };
          standIn.deployments.push(made);
          return [201, { ...made, creator: { login: 'bitenvoy[bot]' } }];
        });
      }
      if ((m = COMMENTS.exec(path))) {
        const repository = `${m[1]}/${m[2]}`;
        const issue = Number(m[3]);
        if (method === 'GET') {
          const since = url.searchParams.get('since');
          // Oldest first; `since` keeps those updated at or after it.
          const listed = standIn.comments.filter((c) => c.repository === repository && c.issue === issue && (!since || c.updated_at >= new Date(since).toISOString()));
          return ok(page(listed, url));
        }
        return answer(req, res, 0, standIn.commentFaults.shift(), () => {
          const at = new Date().toISOString();
          const made: HeldComment = { id: 5000 + standIn.comments.length + 1, repository, issue, body: String(body?.body), created_at: at, updated_at: at };
          standIn.comments.push(made);
          return [201, made];
        });
      }
      if (INSTALLATION.test(path)) return ok({ id: STAND_IN_INSTALLATION });
      if ((m = COMMIT.exec(path))) {
        const sha = standIn.commits.get(decodeURIComponent(m[3]!));
        return sha ? ok({ sha }) : ok({ message: 'No commit found for SHA' }, 422);
      }
      if ((m = REPOSITORY.exec(path))) return ok({ full_name: `${m[1]}/${m[2]}`, name: m[2], owner: { login: m[1] }, clone_url: `https://github.com/${m[1]}/${m[2]}.git` });
      standIn.problems.push(`unexpected request ${method} ${path}`);
      return ok({ message: 'Not Found' }, 404);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return standIn;
}
