/**
 * The artifact downloader's own HTTP/1.1 GET (agent/artifacts/raw-http-get.ts) against real local servers: bodies
 * framed by Content-Length, by chunked transfer encoding (split at awkward places) and by the end of the connection;
 * a chunked body or a Content-Length body cut short fails as a network error; a malformed chunk size is a protocol
 * error; a header with a line break in it is never sent.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rawGet } from '../../../agent/artifacts/raw-http-get.js';

const servers: Array<Server | NetServer> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A raw TCP server that answers every connection with `write(socket)`. */
async function rawServer(write: (socket: Socket) => void): Promise<string> {
  const server = createNetServer((socket) => {
    socket.once('data', () => write(socket));
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/file`;
}

async function bodyOf(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const res = await rawGet(url, headers, { timeoutMs: 5000 });
  const parts: Buffer[] = [];
  await res.readBody((chunk) => parts.push(Buffer.from(chunk)));
  return { status: res.statusCode, body: Buffer.concat(parts) };
}

describe('rawGet', () => {
  it('reads a Content-Length body, and a chunked one, exactly, whatever the pieces', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const server = createHttpServer((req, res) => {
      if (req.url === '/length') return void res.writeHead(200, { 'content-length': data.length }).end(data);
      // No length: Node sends it chunked, in pieces of odd sizes.
      res.writeHead(200, { 'x-kind': 'chunked' });
      let at = 0;
      const next = () => {
        if (at >= data.length) return void res.end();
        const size = 1 + Math.floor(Math.random() * 200_000);
        res.write(data.subarray(at, at + size), next);
        at += size;
      };
      next();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await bodyOf(`${base}/length`)).body.equals(data)).toBe(true);
    const chunked = await bodyOf(`${base}/chunked`);
    expect(chunked.status).toBe(200);
    expect(chunked.body.equals(data)).toBe(true);
  });

  it('reads a body framed by the end of the connection', async () => {
    const url = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it'));
    expect((await bodyOf(url)).body.toString()).toBe('all of it');
  });

  it('fails a body cut short, as a network error the download retries', async () => {
    const short = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this'));
    await expect(bodyOf(short)).rejects.toMatchObject({ code: 'ECONNRESET' });
    const unfinished = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n'));
    await expect(bodyOf(unfinished)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('refuses a malformed chunk size and an answer that is not HTTP', async () => {
    const bad = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'));
    await expect(bodyOf(bad)).rejects.toMatchObject({ code: 'EPROTO', message: expect.stringContaining('chunk size') });
    const junk = await rawServer((socket) => socket.end('SSH-2.0-OpenSSH\r\n\r\n'));
    await expect(bodyOf(junk)).rejects.toMatchObject({ code: 'EPROTO' });
  });

  it("hands the reader's own error back, even when the whole body had arrived before it read", async () => {
    const url = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    const res = await rawGet(url, {}, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 100)); // the body and its end are in before readBody is called
    await expect(
      res.readBody(() => {
        throw new Error('the reader refuses it');
      }),
    ).rejects.toThrow('the reader refuses it');
  });

  it('never sends a header with a line break in it', async () => {
    let asked = false;
    const url = await rawServer((socket) => {
      asked = true;
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    await expect(bodyOf(url, { authorization: 'Bearer x\r\nX-Injected: 1' })).rejects.toThrow(/line break/);
    expect(asked).toBe(false);
  });
});
