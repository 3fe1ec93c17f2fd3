/**
 * A local stand-in for GitHub's REST API, as a GitHub Enterprise Server at `http://127.0.0.1:<port>/api/v3` (the
 * hub reaches it through `GHE_HOST` and `GHE_PROTOCOL=http`). It answers the operations BitEnvoy uses from real
 * state: branch heads and histories read from the bare repositories the testbed's git server serves, check runs
 * and statuses the test reports, deployments and their statuses, installation tokens that the git server then
 * accepts for exactly the repositories they name. Every request is counted and checked against GitHub's published REST description,
 * and creating a deployment delivers the signed `deployment.created` webhook, as GitHub does.
 *
 * It is also GitHub's web side for **Sign in with GitHub**: `GET /login/oauth/authorize` (a page where the test's
 * person types their login and presses Authorize, or straight back for `autoAuthorize`), `POST
 * /login/oauth/access_token` (the App's client id and secret and a single-use code → a user token) and `GET /user`
 * with that token; what each person may do on a repository is set with `setPermission`.
 *
 * @example
 * const github = await startGitHubStandIn({ gitUrl: git.url, gitRoot, appId: '1', privateKey, webhookSecret });
 * github.webhookUrl = `${hub.url}/api/github/webhooks`;
 * const sha = await github.push('acme/shop', 'main', { 'a.txt': '1' });
 */
import { createPublicKey, createVerify, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadGitHubContract, type GitHubContract } from './github-contract.js';
import { createArtifactSide, readAppPermissions, type ArtifactStandIn } from './github-stand-in-artifacts.js';
import { deliverWebhook, installationPayload, newDelivery, repositoryPayload, webhookPayload, type Delivery } from './github-webhooks.js';
import { commitOf, fileAt, headOf, historyOf, pushCommit, type FileChanges } from './git-repos.js';

type Json = Record<string, unknown>;

export interface RecordedRequest {
  method: string;
  path: string;
  body?: unknown;
  status: number;
  problems: string[];
}

interface Token {
  installationId: number;
  repositories?: string[];
  permissions: Record<string, string>;
  expiresAt: number;
}

interface Check {
  id: number;
  name: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  started_at: string;
  completed_at: string | null;
}

export interface StandInDeployment {
  id: number;
  repository: string;
  sha: string;
  ref: string;
  environment: string;
  body: Json;
  statuses: Json[];
}

/** Actions artifacts and release assets: github-stand-in-artifacts.ts. */
export interface GitHubStandIn extends ArtifactStandIn {
  /** `http://127.0.0.1:<port>`; the API is under `/api/v3`. */
  url: string;
  /** `GHE_HOST` for the hub: `127.0.0.1:<port>`. */
  host: string;
  /** Where deliveries go (the hub's webhook URL); set once the hub runs. */
  webhookUrl: string;
  requests: RecordedRequest[];
  deployments: StandInDeployment[];
  /** Check runs the App created or updated (its "BitEnvoy config" checks), newest last. */
  appCheckRuns: Json[];
  deliveries: Delivery[];
  addInstallation(login: string, id: number): void;
  addRepository(fullName: string, bare: string, defaultBranch?: string): void;
  /** True when the token is a live installation token allowed to read `fullName`. */
  tokenCanRead(token: string, fullName: string): boolean;
  /** Commits to a branch of a served repository and delivers the `push` webhook. Resolves with the new head. */
  push(fullName: string, branch: string, changes: FileChanges, message?: string): Promise<{ sha: string; delivery: Delivery; status: number }>;
  /**
   * Records a check run's result on a commit and delivers `check_run.completed` (or nothing while it runs); `to` as
   * for {@link deliver}.
   */
  reportCheck(fullName: string, sha: string, name: string, conclusion: 'success' | 'failure' | 'neutral' | 'skipped' | 'in_progress', branch?: string, options?: { to?: string[] }): Promise<void>;
  /** Records a commit status and delivers the `status` webhook. */
  reportStatus(fullName: string, sha: string, context: string, state: 'success' | 'failure' | 'pending' | 'error', branch?: string): Promise<void>;
  /**
   * Signs and posts one delivery to `webhookUrl`. With `to`, the same delivery (one id) is posted to each of these
   * webhook URLs at once instead — GitHub redelivering it to another hub replica while the first still handles it —
   * and `status` is the first URL's answer.
   */
  deliver(event: string, payload: Json, options?: { signatureSecret?: string; to?: string[] }): Promise<{ delivery: Delivery; status: number; statuses: number[] }>;
  /**
   * A person creates a deployment through the API (`gh api repos/o/r/deployments -f ref=… -f environment=…`); its
   * `deployment.created` goes to `webhookUrl`, or with `to` as for {@link deliver}.
   */
  createDeployment(fullName: string, ref: string, environment: string, login?: string, options?: { to?: string[] }): Promise<StandInDeployment>;
  /** The App is installed on another account: `installation.created` is delivered. */
  installApp(login: string, id: number): Promise<number>;
  /** Opens a pull request from `branch`; its head is whatever the branch points at when asked. Returns its number. */
  openPullRequest(fullName: string, branch: string): number;
  /** `login` comments on a pull request: `issue_comment.created` is delivered. Resolves once the hub answered. */
  comment(fullName: string, number: number, login: string, body: string): Promise<number>;
  /** What the App replied on pull requests, and its reactions. */
  replies: Array<{ repository: string; number: number; body: string }>;
  reactions: Array<{ repository: string; commentId: number; content: string }>;
  redeliver(delivery: Delivery): Promise<number>;
  /** The App's OAuth client id and secret (GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET for the hub). */
  clientId: string;
  clientSecret: string;
  /** When set, `/login/oauth/authorize` sends the browser straight back signed in as this login, without a page. */
  autoAuthorize: string | undefined;
  /** `login`'s permission on `fullName` (`read`, `triage`, `write`, `maintain`, `admin`, `none`); unset: admin. */
  setPermission(fullName: string, login: string, permission: string): void;
  /** Users who authorized the App, in order (a login per code exchanged). */
  signIns: string[];
  /** Every reason GitHub would have refused a request made so far. */
  problems(): string[];
  /** Requests whose path starts with this (after `/api/v3`), or all. */
  count(prefix?: string): number;
  close(): Promise<void>;
}

export async function startGitHubStandIn(options: { gitUrl: string; appId: string; privateKey: string; webhookSecret: string }): Promise<GitHubStandIn> {
  const contracts: GitHubContract[] = await Promise.all([loadGitHubContract('api.github.com'), loadGitHubContract('ghes-3.19')]);
  const publicKey = createPublicKey(options.privateKey);
  const installations = new Map<number, string>();
  const repos = new Map<string, { bare: string; defaultBranch: string }>();
  const tokens = new Map<string, Token>();
  const checks = new Map<string, Check[]>();
  const pulls: Array<{ number: number; repository: string; branch: string }> = [];
  const statuses = new Map<string, Json[]>();
  let nextId = 1000;
  const permissions = new Map<string, string>();
  const codes = new Map<string, { login: string; redirectUri: string; expiresAt: number }>();
  const userTokens = new Map<string, string>();
  const userIds = new Map<string, number>();
  const installationOf = (fullName: string) => [...installations].find(([, login]) => login.toLowerCase() === fullName.split('/')[0]!.toLowerCase())?.[0];
  const appPermissions = await readAppPermissions();
  const artifacts = createArtifactSide({ url: () => standIn.url, tokens, installationOf, repository: (fullName) => repoPayload(fullName), contracts });

  const standIn: GitHubStandIn = {
    url: '',
    host: '',
    webhookUrl: '',
    requests: [],
    deployments: [],
    appCheckRuns: [],
    deliveries: [],
    replies: [],
    reactions: [],
    ...artifacts.api,
    addInstallation: (login, id) => void installations.set(id, login),
    addRepository: (fullName, bare, defaultBranch = 'main') => void repos.set(fullName.toLowerCase(), { bare, defaultBranch }),
    tokenCanRead(token, fullName) {
      const t = tokens.get(token);
      if (!t || t.expiresAt < Date.now() || installationOf(fullName) !== t.installationId) return false;
      return !t.repositories || t.repositories.includes(fullName.split('/')[1]!);
    },
    async push(fullName, branch, changes, message = 'change') {
      const repo = repos.get(fullName.toLowerCase())!;
      const before = await headOf(repo.bare, branch).catch(() => '0'.repeat(40));
      const sha = await pushCommit(repo.bare, changes, message, branch);
      const { delivery, status } = await standIn.deliver('push', webhookPayload('push', undefined, { ref: `refs/heads/${branch}`, before, after: sha, created: false, deleted: false }, repoPayload(fullName), installationOf(fullName)!));
      return { sha, delivery, status };
    },
    async reportCheck(fullName, sha, name, conclusion, branch = 'main', opts = {}) {
      const list = checks.get(`${fullName}@${sha}`) ?? [];
      const now = new Date().toISOString();
      const done = conclusion !== 'in_progress';
      const check: Check = { id: nextId++, name, status: done ? 'completed' : 'in_progress', conclusion: done ? conclusion : null, started_at: now, completed_at: done ? now : null };
      list.push(check);
      checks.set(`${fullName}@${sha}`, list);
      if (!done) return;
      const example = webhookPayload('check_run', 'completed', {}, repoPayload(fullName), installationOf(fullName)!);
      const run = example.check_run as Json;
      const checkRun = { ...run, ...check, head_sha: sha, check_suite: { ...(run.check_suite as Json), head_sha: sha, head_branch: branch } };
      await standIn.deliver('check_run', { ...example, check_run: checkRun }, opts);
    },
    async reportStatus(fullName, sha, context, state, branch = 'main') {
      const list = statuses.get(`${fullName}@${sha}`) ?? [];
      const status = { id: nextId++, context, state, updated_at: new Date().toISOString(), created_at: new Date().toISOString(), description: null, target_url: null };
      list.push(status);
      statuses.set(`${fullName}@${sha}`, list);
      await standIn.deliver('status', webhookPayload('status', undefined, { sha, state, context, branches: [{ name: branch, commit: { sha, url: '' }, protected: false }] }, repoPayload(fullName), installationOf(fullName)!));
    },
    async deliver(event, payload, opts = {}) {
      const delivery = newDelivery(event, payload);
      standIn.deliveries.push(delivery);
      const statuses = await Promise.all((opts.to ?? [standIn.webhookUrl]).map((url) => deliverWebhook(url, options.webhookSecret, delivery, opts.signatureSecret)));
      return { delivery, status: statuses[0]!, statuses };
    },
    async createDeployment(fullName, ref, environment, login = 'octocat', opts = {}) {
      const [status, data] = await createDeployment(fullName, { ref, environment }, login, opts.to);
      if (status !== 201) throw new Error(`cannot create a deployment of ${ref}: ${JSON.stringify(data)}`);
      return standIn.deployments.at(-1)!;
    },
    openPullRequest(fullName, branch) {
      const number = pulls.length + 1;
      pulls.push({ number, repository: fullName, branch });
      return number;
    },
    async comment(fullName, number, login, body) {
      const pr = pulls.find((p) => p.number === number && p.repository === fullName)!;
      const example = webhookPayload('issue_comment', 'created', {}, repoPayload(fullName), installationOf(fullName)!);
      const issue = { ...(example.issue as Json), number, pull_request: { url: `${standIn.url}/api/v3/repos/${fullName}/pulls/${number}`, html_url: `${options.gitUrl}/${fullName}/pull/${number}`, diff_url: '', patch_url: '' } };
      const comment = { ...(example.comment as Json), id: nextId++, body, html_url: `${options.gitUrl}/${fullName}/pull/${pr.number}#issuecomment`, user: { ...((example.comment as Json).user as Json), login, type: 'User' } };
      return (await standIn.deliver('issue_comment', { ...example, issue, comment })).status;
    },
    async installApp(login, id) {
      installations.set(id, login);
      return (await standIn.deliver('installation', installationPayload(login, id))).status;
    },
    clientId: 'Iv1.standin0client',
    clientSecret: randomBytes(20).toString('hex'),
    autoAuthorize: undefined,
    setPermission: (fullName, login, permission) => void permissions.set(`${fullName.toLowerCase()} ${login.toLowerCase()}`, permission),
    signIns: [],
    redeliver: (delivery) => deliverWebhook(standIn.webhookUrl, options.webhookSecret, delivery),
    problems: () => standIn.requests.flatMap((r) => r.problems.map((p) => `${r.method} ${r.path}: ${p}`)),
    count: (prefix = '/') => standIn.requests.filter((r) => r.path.startsWith(prefix)).length,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const repoPayload = (fullName: string) => repositoryPayload(fullName, options.gitUrl, repos.get(fullName.toLowerCase())?.defaultBranch);

  /** The installation a request's token belongs to, or why it is refused. */
  const installationAuth = (req: IncomingMessage): Token | undefined => {
    const m = /^(?:token|bearer) (\S+)$/i.exec(req.headers.authorization ?? '');
    const t = m ? tokens.get(m[1]!) : undefined;
    return t && t.expiresAt > Date.now() ? t : undefined;
  };
  const appAuth = (req: IncomingMessage): boolean => {
    const m = /^bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const verify = createVerify('RSA-SHA256');
    verify.update(`${m[1]}.${m[2]}`);
    if (!verify.verify(publicKey, Buffer.from(m[3]!, 'base64url'))) return false;
    const claims = JSON.parse(Buffer.from(m[2]!, 'base64url').toString()) as { iss?: string | number; exp?: number };
    return String(claims.iss) === options.appId && (claims.exp ?? 0) * 1000 > Date.now();
  };

  const userAuth = (req: IncomingMessage): boolean => userTokens.has(/^(?:token|bearer) (\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');

  /** GitHub's web side of the OAuth flow: pages and redirects, not the REST API (so not checked against it). */
  function handleWeb(req: IncomingMessage, res: ServerResponse, url: URL, text: string): void {
    const q = url.searchParams;
    const back = (redirectUri: string, login: string, state: string) => {
      const code = randomBytes(10).toString('hex');
      codes.set(code, { login, redirectUri, expiresAt: Date.now() + 600_000 });
      const to = new URL(redirectUri);
      to.searchParams.set('code', code);
      to.searchParams.set('state', state);
      res.writeHead(302, { location: to.toString() }).end();
    };
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      if (q.get('client_id') !== standIn.clientId) return void res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404: no such application</h1>');
      if (standIn.autoAuthorize) return back(q.get('redirect_uri') ?? '', standIn.autoAuthorize, q.get('state') ?? '');
      const hidden = ['redirect_uri', 'state'].map((n) => `<input type="hidden" name="${n}" value="${String(q.get(n) ?? '').replace(/"/g, '&quot;')}">`).join('');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
        `<!doctype html><title>Authorize BitEnvoy</title><h1>Authorize BitEnvoy</h1><form method="get" action="/login/oauth/authorize/confirm">${hidden}<label for="login">Signed in to GitHub as</label> <input id="login" name="login"><button type="submit">Authorize</button></form>`,
      );
      return;
    }
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize/confirm') return back(q.get('redirect_uri') ?? '', q.get('login') ?? '', q.get('state') ?? '');
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      let body: Json;
      try {
        body = text.trim().startsWith('{') ? (JSON.parse(text) as Json) : Object.fromEntries(new URLSearchParams(text));
      } catch {
        body = {};
      }
      const code = codes.get(String(body.code ?? ''));
      codes.delete(String(body.code ?? ''));
      let answer: Json;
      if (body.client_id !== standIn.clientId || body.client_secret !== standIn.clientSecret) answer = { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' };
      else if (!code || code.expiresAt < Date.now()) answer = { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' };
      else if (body.redirect_uri !== undefined && body.redirect_uri !== code.redirectUri) answer = { error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.' };
      else {
        const token = `ghu_${randomBytes(18).toString('base64url')}`;
        userTokens.set(token, code.login);
        standIn.signIns.push(code.login);
        answer = { access_token: token, token_type: 'bearer', scope: '' };
      }
      // GitHub answers 200 with an `error` field for a refused code, JSON when asked for it.
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(answer));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404</h1>');
  }

  type Handler = (req: IncomingMessage, params: string[], body: Json | undefined, url: URL) => Promise<[number, unknown]> | [number, unknown];
  const routes: Array<[string, RegExp, 'app' | 'installation' | 'user', Handler]> = [
    ['POST', /^\/app\/installations\/(\d+)\/access_tokens$/, 'app', (_req, [id], body) => {
      if (!installations.has(Number(id))) return [404, { message: 'Not Found' }];
      const token = `ghs_${randomBytes(18).toString('base64url')}`;
      const expiresAt = Date.now() + 3600_000;
      const repositories = body?.repositories as string[] | undefined;
      tokens.set(token, { installationId: Number(id), ...(repositories ? { repositories } : {}), permissions: (body?.permissions as Record<string, string>) ?? appPermissions, expiresAt });
      return [201, { token, expires_at: new Date(expiresAt).toISOString().replace(/\.\d+Z$/, 'Z'), permissions: body?.permissions ?? {}, repository_selection: repositories ? 'selected' : 'all' }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/installation$/, 'app', (_req, [o, r]) => {
      const id = repos.has(`${o}/${r}`.toLowerCase()) ? installationOf(`${o}/${r}`) : undefined;
      return id ? [200, { id, account: { login: o, type: 'Organization' }, app_id: Number(options.appId) }] : [404, { message: 'Not Found' }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/commits\/([^/]+)$/, 'installation', async (_req, [o, r, ref]) => {
      const repo = repos.get(`${o}/${r}`.toLowerCase());
      const name = decodeURIComponent(ref!);
      const sha = /^[0-9a-f]{40}$/.test(name) ? name : repo ? await headOf(repo.bare, name).catch(() => undefined) : undefined;
      if (!sha) return [422, { message: `No commit found for SHA: ${name}` }];
      // The fields the hub reads (a deployment's title and author); testbed commits belong to no GitHub user.
      const made = repo ? await commitOf(repo.bare, sha).catch(() => undefined) : undefined;
      return [200, { sha, ...(made ? { commit: { message: made.message, author: made.author, committer: { ...made.author, date: made.date } }, author: null } : {}) }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/, 'installation', async (_req, [o, r, path], _b, url) => {
      // A file of a commit (the hub reads a deployment's instruction file for the artifacts it declares).
      const repo = repos.get(`${o}/${r}`.toLowerCase());
      const name = decodeURIComponent(path!);
      const ref = url.searchParams.get('ref') ?? repo?.defaultBranch ?? 'main';
      const sha = /^[0-9a-f]{40}$/.test(ref) ? ref : repo ? await headOf(repo.bare, ref).catch(() => undefined) : undefined;
      const bytes = repo && sha ? await fileAt(repo.bare, sha, name) : undefined;
      if (!bytes) return [404, { message: 'Not Found' }];
      return [200, { type: 'file', encoding: 'base64', size: bytes.length, name: name.split('/').at(-1), path: name, content: bytes.toString('base64'), sha: '0'.repeat(40) }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/commits$/, 'installation', async (_req, [o, r], _b, url) => {
      // A branch's history a page at a time, newest first (the deploy page's candidates).
      const repo = repos.get(`${o}/${r}`.toLowerCase());
      const ref = url.searchParams.get('sha') ?? repo?.defaultBranch ?? 'main';
      const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
      const n = Math.max(Number(url.searchParams.get('page') ?? 1), 1);
      const shas = repo && !ref.startsWith('-') ? await historyOf(repo.bare, ref, (n - 1) * perPage, perPage).catch(() => undefined) : undefined;
      if (!shas) return [404, { message: 'Not Found' }];
      const made = await Promise.all(shas.map((sha) => commitOf(repo!.bare, sha)));
      return [200, shas.map((sha, i) => ({ sha, commit: { message: made[i]!.message, author: made[i]!.author, committer: { ...made[i]!.author, date: made[i]!.date } }, author: null, parents: [] }))];
    }],
    ['GET', /^\/app\/installations$/, 'app', () => [200, [...installations].map(([id, login]) => ({ id, account: { login, type: 'Organization' }, app_id: Number(options.appId) }))]],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)$/, 'installation', (_req, [o, r]) => {
      const repo = repos.get(`${o}/${r}`.toLowerCase());
      return repo ? [200, repoPayload(`${o}/${r}`)] : [404, { message: 'Not Found' }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/branches\/(.+)$/, 'installation', async (_req, [o, r, b]) => {
      const repo = repos.get(`${o}/${r}`.toLowerCase());
      const sha = repo ? await headOf(repo.bare, decodeURIComponent(b!)).catch(() => undefined) : undefined;
      return sha ? [200, { name: b, commit: { sha }, protected: false }] : [404, { message: 'Branch not found' }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/commits\/([^/]+)\/check-runs$/, 'installation', (_req, [o, r, sha], _b, url) => {
      const all = [...(checks.get(`${o}/${r}@${sha}`) ?? [])].reverse();
      return [200, { total_count: all.length, check_runs: page(all, url).map((c) => ({ ...c, head_sha: sha, app: { slug: 'ci' } })) }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/commits\/([^/]+)\/status$/, 'installation', (_req, [o, r, sha], _b, url) => {
      // The combined status: the newest status of each context.
      const newest = new Map<string, Json>();
      for (const s of statuses.get(`${o}/${r}@${sha}`) ?? []) newest.set(s.context as string, s);
      const all = [...newest.values()];
      const state = all.some((s) => s.state === 'failure' || s.state === 'error') ? 'failure' : all.every((s) => s.state === 'success') && all.length ? 'success' : 'pending';
      return [200, { state, sha, total_count: all.length, statuses: page(all, url) }];
    }],
    ['POST', /^\/repos\/([^/]+)\/([^/]+)\/deployments$/, 'installation', (_req, [o, r], body) => createDeployment(`${o}/${r}`, body ?? {}, 'bitenvoy[bot]')],
    ['POST', /^\/repos\/([^/]+)\/([^/]+)\/deployments\/(\d+)\/statuses$/, 'installation', (_req, [, , id], body) => {
      const deployment = standIn.deployments.find((d) => d.id === Number(id));
      if (!deployment) return [404, { message: 'Not Found' }];
      const status = { id: nextId++, ...body, created_at: new Date().toISOString() };
      deployment.statuses.push(status);
      return [201, status];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/deployments\/(\d+)\/statuses$/, 'installation', (_req, [, , id], _b, url) => {
      // Newest first, as GitHub lists them.
      const deployment = standIn.deployments.find((d) => d.id === Number(id));
      return deployment ? [200, page([...deployment.statuses].reverse(), url)] : [404, { message: 'Not Found' }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/, 'installation', async (_req, [o, r, n]) => {
      const pr = pulls.find((p) => p.repository === `${o}/${r}` && p.number === Number(n));
      const repo = repos.get(`${o}/${r}`.toLowerCase());
      if (!pr || !repo) return [404, { message: 'Not Found' }];
      const sha = await headOf(repo.bare, pr.branch);
      return [200, { number: pr.number, state: 'open', draft: false, head: { ref: pr.branch, sha, repo: { full_name: pr.repository } }, base: { ref: repo.defaultBranch, repo: { full_name: pr.repository } } }];
    }],
    ['GET', /^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/, 'installation', (_req, [o, r, login]) => {
      const permission = permissions.get(`${o}/${r} ${login}`.toLowerCase()) ?? 'admin';
      if (permission === 'none') return [200, { permission: 'none', role_name: 'none', user: null }];
      // GitHub's `permission` is the legacy level (maintain → write, triage → read); `role_name` the role itself.
      return [200, { permission: ({ maintain: 'write', triage: 'read' } as Record<string, string>)[permission] ?? permission, role_name: permission, user: null }];
    }],
    ['GET', /^\/user$/, 'user', (req) => {
      const login = userTokens.get(/^(?:token|bearer) (\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '')!;
      if (!userIds.has(login)) userIds.set(login, nextId++);
      return [200, { login, id: userIds.get(login), type: 'User', site_admin: false }];
    }],
    ['POST', /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)\/reactions$/, 'installation', (_req, [o, r, id], body) => {
      standIn.reactions.push({ repository: `${o}/${r}`, commentId: Number(id), content: String(body?.content) });
      return [201, { id: nextId++, content: body?.content }];
    }],
    ['POST', /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/, 'installation', (_req, [o, r, n], body) => {
      standIn.replies.push({ repository: `${o}/${r}`, number: Number(n), body: String(body?.body) });
      return [201, { id: nextId++, body: body?.body }];
    }],
    ['POST', /^\/repos\/([^/]+)\/([^/]+)\/check-runs$/, 'installation', (_req, [o, r], body) => {
      const run = { id: nextId++, repository: `${o}/${r}`, ...body };
      standIn.appCheckRuns.push(run);
      return [201, run];
    }],
    ['PATCH', /^\/repos\/([^/]+)\/([^/]+)\/check-runs\/(\d+)$/, 'installation', (_req, [, , id], body) => {
      const run = standIn.appCheckRuns.find((c) => c.id === Number(id));
      if (!run) return [404, { message: 'Not Found' }];
      const annotations = [...(((run.output as Json | undefined)?.annotations as unknown[]) ?? []), ...((((body?.output as Json | undefined)?.annotations as unknown[]) ?? []))];
      Object.assign(run, body, { output: { ...(run.output as Json), ...(body?.output as Json), annotations } });
      return [200, run];
    }],
  ];

  /** What `POST /repos/{owner}/{repo}/deployments` does: records it and tells the App, as GitHub does. */
  async function createDeployment(fullName: string, body: Json, creator: string, to?: string[]): Promise<[number, unknown]> {
    const repo = repos.get(fullName.toLowerCase());
    const ref = String(body.ref ?? '');
    const sha = /^[0-9a-f]{40}$/.test(ref) ? ref : repo ? await headOf(repo.bare, ref).catch(() => undefined) : undefined;
    if (!repo || !sha) return [422, { message: `No ref found for: ${ref}` }];
    const deployment = { id: nextId++, repository: fullName, sha, ref, environment: String(body.environment ?? 'production'), body, statuses: [] };
    standIn.deployments.push(deployment);
    const data = { id: deployment.id, sha, ref, task: body.task ?? 'deploy', environment: deployment.environment, payload: body.payload ?? {}, description: body.description ?? null, creator: { login: creator, type: creator.endsWith('[bot]') ? 'Bot' : 'User' }, created_at: new Date().toISOString() };
    setImmediate(() => {
      const example = webhookPayload('deployment', 'created', {}, repoPayload(fullName), installationOf(fullName)!);
      void standIn.deliver('deployment', { ...example, deployment: { ...(example.deployment as Json), ...data } }, to ? { to } : {}).catch(() => undefined);
    });
    return [201, data];
  }

  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in.invalid');
    const path = url.pathname.replace(/^\/api\/v3(?=\/)/, '');
    const text = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    if (artifacts.serveBlob(req, res, url)) return;
    // GitHub's web pages (and the icon a browser asks for on them) are not the REST API.
    if (url.pathname.startsWith('/login/') || url.pathname === '/favicon.ico') {
      standIn.requests.push({ method: req.method ?? 'GET', path: url.pathname, status: 0, problems: [] });
      return handleWeb(req, res, url, text);
    }
    const body = text ? (JSON.parse(text) as Json) : undefined;
    const problems = contracts.flatMap((c) => c.problems(req.method ?? 'GET', path, body));
    const record: RecordedRequest = { method: req.method ?? 'GET', path, ...(body ? { body } : {}), status: 0, problems };
    standIn.requests.push(record);
    if (artifacts.answer(req, res, path, url, record)) return;
    let status = 404;
    let answer: unknown = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' };
    for (const [method, pattern, auth, handler] of routes) {
      const m = pattern.exec(path);
      if (!m || method !== req.method) continue;
      if (auth === 'app' ? !appAuth(req) : auth === 'user' ? !userAuth(req) : !installationAuth(req)) {
        [status, answer] = [401, { message: auth === 'app' ? 'A JSON web token could not be decoded' : 'Bad credentials' }];
      } else {
        [status, answer] = await handler(req, m.slice(1), body, url);
      }
      break;
    }
    record.status = status;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3' }).end(JSON.stringify(answer));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  standIn.url = `http://127.0.0.1:${port}`;
  standIn.host = `127.0.0.1:${port}`;
  return standIn;
}

function page<T>(all: T[], url: URL): T[] {
  const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
  const n = Math.max(Number(url.searchParams.get('page') ?? 1), 1);
  return all.slice((n - 1) * perPage, n * perPage);
}

