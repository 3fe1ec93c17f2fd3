import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long, and for how many more bytes, a refused upload is read and dropped before its connection is cut. */
const LINGER_MS = 1000;
const LINGER_BYTES = 1024 * 1024;

/**
 * For an answer sent before the request's body was (all) read — too large, not signed, not authorised, rate
 * limited: the answer says `Connection: close`, and once it is out what still arrives is dropped unread for a
 * moment, then the connection is cut. Call it before the answer's head is written.
 *
 * Neither plain way works. Keep-alive makes Node read and discard the rest, however long the sender goes on (a
 * forged 100 MiB body is read whole, just not kept), and the client may send its next request into a connection
 * still busy with the last. Node's own `Connection: close` destroys the socket as soon as the answer is written,
 * with unread data still in it, which makes the kernel send a reset — and a reset can destroy the answer before
 * the client reads it. So, like a web server's "lingering close": answer, half-close, drop at most
 * {@link LINGER_BYTES} or {@link LINGER_MS} more (time for the answer to arrive), then cut.
 *
 * @example
 * cutUnreadBody(req, res);
 * res.writeHead(413).end(body);
 */
export function cutUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || res.headersSent) return;
  res.setHeader('connection', 'close');
  const socket = req.socket;
  // Node ends a `Connection: close` answer with destroySoon(); this socket lingers instead.
  socket.destroySoon = () => {
    socket.end();
    // Node drops a finished request's remaining body inside its parser (no `data` events): the socket's byte count
    // is what shows how much more came.
    const start = socket.bytesRead;
    const began = Date.now();
    const timer = setInterval(() => {
      if (socket.destroyed) return void clearInterval(timer);
      if (req.complete || Date.now() - began >= LINGER_MS || socket.bytesRead - start > LINGER_BYTES) {
        clearInterval(timer);
        socket.destroy();
      }
    }, 20);
    timer.unref();
  };
}
