/**
 * A client that streams a large request body as fast as the server takes it, and notes when the answer came and
 * whether the server cut the upload: what a forged 100 MiB delivery looks like from outside. It speaks HTTP/1.1 on
 * a plain socket, in a process of its own: the test setup's nock intercepts sockets in the test process (and would
 * buffer the whole upload), and a real sender is another process anyway.
 *
 * @example
 * const result = await streamUpload(`${hub}/api/github/webhooks`, { headers, totalBytes: 100 * 1024 * 1024 });
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface UploadResult {
  status: number;
  body: string;
  headers: Record<string, string>;
  /** Body bytes written into the socket when the answer's head arrived. */
  sentWhenAnswered: number;
  /** Body bytes written in all. */
  sent: number;
  /** The server closed the connection before the whole body was written (the client goes on sending after the answer, 5 s at most). */
  cut: boolean;
  ms: number;
}

export interface UploadOptions {
  headers: Record<string, string>;
  totalBytes: number;
  /** Send `content-length` (else the body goes chunked, with no length up front). */
  declareLength?: boolean;
  /** What the body is made of, repeated. */
  fill?: string;
  chunkBytes?: number;
  method?: string;
  /** Pause for `ms` once `bytes` were sent (a slow sender holding its part of the body in the server's memory). */
  stall?: { bytes: number; ms: number };
}

/** Runs {@link upload} in a child process (this file, run by the same node) and answers its result. */
export function streamUpload(url: string, options: UploadOptions): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify({ url, options })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as UploadResult) : reject(new Error(`upload client failed (${code}): ${err}`))));
  });
}

function upload(url: string, options: UploadOptions): Promise<UploadResult> {
  const target = new URL(url);
  const chunk = Buffer.alloc(options.chunkBytes ?? 64 * 1024, options.fill ?? 'x');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname);
    let sent = 0;
    let sentWhenAnswered = -1;
    let stopped = false;
    let cut = false;
    let received = Buffer.alloc(0);
    let head: { status: number; headers: Record<string, string>; bodyStart: number } | undefined;
    let settled = false;
    let answer: { body: string } | undefined;
    let giveUp: NodeJS.Timeout | undefined;
    const finish = () => {
      if (settled || !head || !answer) return;
      settled = true;
      clearTimeout(giveUp);
      stopped = true;
      socket.destroy();
      resolve({ status: head.status, headers: head.headers, body: answer.body, sentWhenAnswered, sent, cut, ms: Date.now() - started });
    };
    // Once answered, go on sending as a forger would: the server should cut the connection soon.
    const done = () => {
      if (answer || !head) return;
      const length = Number(head.headers['content-length'] ?? NaN);
      const body = received.subarray(head.bodyStart);
      if (Number.isFinite(length) && body.length < length) return;
      answer = { body: body.toString('utf8') };
      if (stopped || sent >= options.totalBytes) return finish();
      giveUp = setTimeout(finish, 5000);
    };
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      if (!head) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        head = { status: Number(statusLine.split(' ')[1]), headers, bodyStart: end + 4 };
        sentWhenAnswered = sent;
      }
      done();
    });
    const closed = () => {
      if (!stopped && sent < options.totalBytes) cut = true;
      stopped = true;
      if (head) {
        done();
        finish();
      } else if (!settled) {
        settled = true;
        reject(new Error(`the connection closed without an answer after ${sent} body bytes`));
      }
    };
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', () => {
      if (!stopped && sent < options.totalBytes) cut = true;
      stopped = true;
    });
    const chunked = !options.declareLength;
    let stalled = false;
    const pump = () => {
      if (stopped || socket.destroyed) return;
      if (options.stall && !stalled && sent >= options.stall.bytes) {
        stalled = true;
        return void setTimeout(pump, options.stall.ms);
      }
      if (sent >= options.totalBytes) {
        socket.write(chunked ? '0\r\n\r\n' : '');
        return void (answer && finish());
      }
      const part = sent + chunk.length > options.totalBytes ? chunk.subarray(0, options.totalBytes - sent) : chunk;
      sent += part.length;
      const ok = chunked ? socket.write(Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')])) : socket.write(part);
      // One chunk per turn of the event loop: the server, perhaps in this very process, reads and answers in between.
      if (ok) setImmediate(pump);
      else socket.once('drain', pump);
    };
    socket.once('connect', () => {
      const headers = { host: target.host, ...options.headers, ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(options.totalBytes) }) };
      socket.write(`${options.method ?? 'POST'} ${target.pathname}${target.search} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
      pump();
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url, options } = JSON.parse(process.argv[2]!) as { url: string; options: UploadOptions };
  upload(url, options).then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (err: unknown) => {
      process.stderr.write(String(err));
      process.exitCode = 1;
    },
  );
}
