import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long, and for how many more bytes, a refused upload is read and dropped before its connection is cut. */
const LINGER_MS = 1000;
const LINGER_BYTES = 1024 * 1024;

/**
 * For an answer sent before the request's body was (all) read — too large, not signed, not authorised, rate
 * limited: once the answer is out, what still arrives is dropped unread for a moment, then the connection is cut.
 *
 * Neither extreme works. Keep-alive alone makes Node read and discard the rest, however long the sender goes on
 * (a forged 100 MiB body is read whole, just not kept). `Connection: close` closes the socket while unread data
 * sits in it, which makes the kernel send a reset — and a reset can destroy the answer before the client reads it.
 * So, like a web server's "lingering close": answer, drop at most {@link LINGER_BYTES} or {@link LINGER_MS} more
 * (time for the answer to arrive), then cut.
 *
 * @example
 * if (!req.complete) cutUnreadBody(req, res);
 * res.writeHead(413).end(body);
 */
export function cutUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  res.once('finish', () => {
    if (req.complete) return;
    // Node drops a finished request's remaining body inside its parser (no `data` events): the socket's byte count
    // is what shows how much more came.
    const socket = req.socket;
    const start = socket.bytesRead;
    const began = Date.now();
    const timer = setInterval(() => {
      if (req.complete || socket.destroyed) return void clearInterval(timer);
      if (Date.now() - began >= LINGER_MS || socket.bytesRead - start > LINGER_BYTES) {
        clearInterval(timer);
        socket.destroy();
      }
    }, 20);
    timer.unref();
  });
}
