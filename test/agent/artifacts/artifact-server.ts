/**
 * A real HTTP file server on 127.0.0.1 for the artifact download tests: serves named byte strings with ETag,
 * Last-Modified, Range and If-Range as a CDN does, records every request, counts the body bytes it sent, and takes
 * one-shot behaviours (cut the answer mid-way, answer 500, redirect, stall) that the next requests get instead.
 *
 * @example
 * const server = await startArtifactServer();
 * server.serve('/app.tgz', bytes, { etag: '"v1"' });
 * server.once((req, res) => void res.writeHead(500).end());
 * await server.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedFile {
  body: Buffer;
  etag?: string;
  lastModified?: string;
  /** Send no Content-Length (chunked), as a source that streams does. */
  chunked?: boolean;
  /** Answer 206 to any range, even when If-Range no longer matches (a source that ignores If-Range). */
  ignoreIfRange?: boolean;
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
}

/** A one-shot answer to one request. */
export type Behaviour = (req: IncomingMessage, res: ServerResponse, server: ArtifactServer) => void;

export interface ArtifactServer {
  /** `http://127.0.0.1:PORT`. */
  base: string;
  requests: RecordedRequest[];
  /** Body bytes written by the file handler. */
  bytesSent: number;
  serve(path: string, file: ServedFile): void;
  /** The next request gets `behaviour` instead of the file handler (queued in order). */
  once(behaviour: Behaviour): void;
  /** Writes the first `count` bytes of the file at `path` as a 200 (or 206 from `start`), then calls `then`. */
  sendPart(res: ServerResponse, path: string, count: number, then: 'cut' | 'stall', start?: number): void;
  close(): Promise<void>;
}

export async function startArtifactServer(): Promise<ArtifactServer> {
  const files = new Map<string, ServedFile>();
  const queue: Behaviour[] = [];
  const server = createServer((req, res) => {
    served.requests.push({ path: req.url ?? '/', headers: req.headers });
    const behaviour = queue.shift();
    if (behaviour) behaviour(req, res, served);
    else serveFile(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  function serveFile(req: IncomingMessage, res: ServerResponse): void {
    const file = files.get(req.url ?? '');
    if (!file) return void res.writeHead(404).end('not found');
    const headers: Record<string, string> = { 'accept-ranges': 'bytes' };
    if (file.etag) headers.etag = file.etag;
    if (file.lastModified) headers['last-modified'] = file.lastModified;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const rangeHolds = !ifRange || file.ignoreIfRange || ifRange === file.etag || ifRange === file.lastModified;
    let start = 0;
    let status = 200;
    if (range && rangeHolds) {
      start = Number(range[1]);
      if (start >= file.body.length) return void res.writeHead(416, { 'content-range': `bytes */${file.body.length}` }).end();
      status = 206;
      headers['content-range'] = `bytes ${start}-${file.body.length - 1}/${file.body.length}`;
    }
    const part = file.body.subarray(start);
    if (!file.chunked) headers['content-length'] = String(part.length);
    served.bytesSent += part.length;
    res.writeHead(status, headers).end(part);
  }

  const served: ArtifactServer = {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    bytesSent: 0,
    serve: (path, file) => void files.set(path, file),
    once: (behaviour) => void queue.push(behaviour),
    sendPart(res, path, count, then, start = 0) {
      const file = files.get(path)!;
      const headers: Record<string, string> = { 'content-length': String(file.body.length - start), ...(file.etag ? { etag: file.etag } : {}) };
      if (start > 0) headers['content-range'] = `bytes ${start}-${file.body.length - 1}/${file.body.length}`;
      res.writeHead(start > 0 ? 206 : 200, headers);
      served.bytesSent += count;
      res.write(file.body.subarray(start, start + count), () => {
        if (then === 'cut') res.socket?.destroy();
      });
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return served;
}
