/**
 * Where the GitHub stand-in's artifact and release-asset downloads redirect to: GitHub answers those API calls with a
 * 302 to blob storage (Azure blobs with a SAS signature in the URL, `release-assets.githubusercontent.com`), whose
 * URL is unguessable, expires within minutes and is itself the credential. This serves such URLs from the stand-in's
 * own port under `/_blobs/`, refuses a request that also carries an `Authorization` header (a client must drop the
 * GitHub token when it follows the redirect, as storage refuses two credentials), and answers `Range` requests so a
 * downloader can resume.
 *
 * @example
 * const blobs = createBlobStore(() => standIn.url);
 * res.writeHead(302, { location: blobs.urlFor(bytes) });
 * if (blobs.serve(req, res, url)) return;
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface BlobRequest {
  path: string;
  /** Whether the request carried an `Authorization` header (it is refused when it did). */
  authorization: boolean;
  range: string | undefined;
  status: number;
}

export interface BlobStore {
  /** A fresh URL serving these bytes for `ttlMs` (GitHub's artifact redirects last one minute). */
  urlFor(bytes: Buffer, ttlMs?: number): string;
  /** Answers the request when it is for a blob URL; false when it is not one (the API handles it). */
  serve(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  /** Every blob request, in order. */
  requests: BlobRequest[];
}

const PREFIX = '/_blobs/';

export function createBlobStore(base: () => string): BlobStore {
  const blobs = new Map<string, { bytes: Buffer; expiresAt: number }>();
  const store: BlobStore = {
    requests: [],
    urlFor(bytes, ttlMs = 60_000) {
      const key = randomBytes(24).toString('hex');
      const expiresAt = Date.now() + ttlMs;
      blobs.set(key, { bytes, expiresAt });
      return `${base()}${PREFIX}${key}?se=${encodeURIComponent(new Date(expiresAt).toISOString())}&sp=r`;
    },
    serve(req, res, url) {
      if (!url.pathname.startsWith(PREFIX)) return false;
      const record: BlobRequest = { path: url.pathname, authorization: req.headers.authorization !== undefined, range: req.headers.range, status: 0 };
      store.requests.push(record);
      const blob = blobs.get(url.pathname.slice(PREFIX.length));
      const send = (status: number, headers: Record<string, string | number>, body?: Buffer | string): true => {
        record.status = status;
        res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : body);
        return true;
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { allow: 'GET, HEAD' });
      // The signed URL is the credential: a second one (the GitHub token a careless client forwards) is refused.
      if (record.authorization) return send(400, { 'content-type': 'text/plain' }, 'Only one auth mechanism allowed: the signed URL or the Authorization header');
      if (!blob) return send(404, { 'content-type': 'text/plain' }, 'BlobNotFound');
      if (blob.expiresAt < Date.now()) return send(403, { 'content-type': 'text/plain' }, 'AuthenticationFailed: signed expiry time has passed');
      const size = blob.bytes.length;
      const range = parseRange(req.headers.range, size);
      const common = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
      if (range === 'unsatisfiable') return send(416, { ...common, 'content-range': `bytes */${size}` });
      if (!range) return send(200, { ...common, 'content-length': size }, blob.bytes);
      const [start, end] = range;
      return send(206, { ...common, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` }, blob.bytes.subarray(start, end + 1));
    },
  };
  return store;
}

/**
 * One `bytes=` range as inclusive offsets; undefined (send it all) for no header or several ranges, which a server
 * may ignore; `unsatisfiable` for a range that starts past the end.
 */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    return suffix === 0 || size === 0 ? 'unsatisfiable' : [Math.max(size - suffix, 0), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || start > end ? 'unsatisfiable' : [start, end];
}
