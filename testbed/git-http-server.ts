/**
 * Serves every bare git repository under a folder over HTTP with real git (`git http-backend`, git's own CGI
 * program), on loopback. The demo, the end-to-end tests and the benchmarks fetch application code and the config
 * repo through it exactly as agents fetch from a git host in production.
 *
 * @example
 * const git = await startGitHttpServer({ root: '/tmp/repos' });
 * // git clone `${git.url}/acme/shop.git`
 * await git.close();
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHttpServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`; a repository at `<root>/acme/shop.git` is `<url>/acme/shop.git`. */
  url: string;
  /** Response body bytes sent to clients so far (what fetches cost), optionally only for paths under `prefix`. */
  bytesSent(prefix?: string): number;
  /** Requests served so far, optionally only for paths under `prefix` (e.g. `/acme/shop.git/`). */
  requests(prefix?: string): number;
  close(): Promise<void>;
}

export async function startGitHttpServer(options: {
  root: string;
  host?: string;
  port?: number;
  /** Answer 401 (asking for Basic credentials) to requests this returns true for. */
  requireAuth?: (path: string, authorization: string | undefined) => boolean;
}): Promise<GitHttpServer> {
  const bytesByPath = new Map<string, number>();
  const requestsByPath = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://git.invalid').pathname;
    requestsByPath.set(path, (requestsByPath.get(path) ?? 0) + 1);
    if (options.requireAuth?.(path, req.headers.authorization)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="testbed"', 'content-type': 'text/plain' }).end('credentials required\n');
      return;
    }
    serveWithHttpBackend(options.root, req, res, (n) => bytesByPath.set(path, (bytesByPath.get(path) ?? 0) + n));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    bytesSent: (prefix = '/') => {
      let total = 0;
      for (const [path, n] of bytesByPath) if (path.startsWith(prefix)) total += n;
      return total;
    },
    requests: (prefix = '/') => {
      let total = 0;
      for (const [path, n] of requestsByPath) if (path.startsWith(prefix)) total += n;
      return total;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function serveWithHttpBackend(
  root: string,
  req: IncomingMessage,
  res: ServerResponse,
  countBytes: (n: number) => void,
): void {
  const url = new URL(req.url ?? '/', 'http://git.invalid');
  if (url.pathname.includes('..')) {
    res.writeHead(400).end('bad path\n');
    return;
  }
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ''),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      // Pushes over HTTP are not needed here; the testbed pushes through the file system.
      REMOTE_USER: 'testbed',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);

  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      countBytes(chunk.length);
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = findHeaderEnd(head);
    if (end === undefined) return;
    headersDone = true;
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.index).toString('latin1'));
    res.writeHead(status, headers);
    const body = head.subarray(end.index + end.length);
    countBytes(body.length);
    res.write(body);
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.on('close', (code) => {
    if (!headersDone) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`git http-backend failed (${code}): ${stderr}\n`);
      return;
    }
    res.end();
  });
  child.on('error', (err) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`cannot run git http-backend: ${err.message}\n`);
  });
}

function findHeaderEnd(buf: Buffer): { index: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { index: crlf, length: 4 };
  if (lf !== -1) return { index: lf, length: 2 };
  return undefined;
}

function parseCgiHeaders(text: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200;
    else headers[name] = value;
  }
  return { status, headers };
}
