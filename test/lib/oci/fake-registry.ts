/**
 * A registry that misbehaves on purpose, for what the real one never does: serve a manifest whose bytes do not match
 * its digest, claim a wrong `Docker-Content-Digest`, demand tokens from a realm of its choosing. A node:http server on
 * 127.0.0.1 at port 0; each test gives the answer for each request and reads back what was asked.
 *
 * @example
 * const fake = await startFakeRegistry((req, res) => void res.writeHead(200).end(bytes));
 * await resolveOciTag(`${fake.host}/acme/site:1`, { timeoutMs: 5000, insecureRegistries: [fake.host] });
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  /** Path and query, e.g. `/token?service=…&scope=…`. */
  url: string;
  authorization: string | undefined;
  accept: string | undefined;
}

export interface FakeRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startFakeRegistry(answer: (req: IncomingMessage, res: ServerResponse, url: URL) => void): Promise<FakeRegistry> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, accept: req.headers.accept });
    answer(req, res, new URL(req.url ?? '/', 'http://fake.invalid'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    url: `http://${host}`,
    seen,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** A valid OCI artifact manifest with one titled layer, as bytes. */
export function artifactManifest(layer: { digest?: string; size?: number; title?: string } = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.acme.site.v1',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${'4'.repeat(64)}`, size: 2 },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: layer.digest ?? `sha256:${'a'.repeat(64)}`,
          size: layer.size ?? 10,
          annotations: { 'org.opencontainers.image.title': layer.title ?? 'site.tar.gz' },
        },
      ],
    }),
  );
}
