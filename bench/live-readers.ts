/**
 * The live-update benchmark's page readers, in a process of their own (so that parsing a hundred streams does not
 * hold up the simulated agents' reports in the benchmark's process; both still share the machine's cores): each
 * reader is one real HTTP connection to `GET /deployments/:id/live` that parses the Server-Sent Events as a browser's
 * EventSource would, and notes when each `update` arrived, its id, the page's counts and the servers it names.
 * Driven by bench/live-updates.ts over the IPC channel:
 *
 *   parent → { type: 'open', url, count, broken }
 *   child  → { type: 'ready', firstIds }   once every reader holds its first `update` (or `failed`)
 *   parent → { type: 'collect', waitMs }
 *   child  → { type: 'results', readers } once every stream ended (or after waitMs), then exits
 *
 * `broken` readers drop every other `update` they get: the benchmark's own test proves with them that a reader which
 * misses events is reported. Times are `performance.timeOrigin + performance.now()`: epoch milliseconds, comparable
 * with the benchmark process's.
 *
 * @example
 * const child = fork('dist/bench/live-readers.js', [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
 * child.send({ type: 'open', url: `${hub}/deployments/${id}/live`, count: 100, broken: 0 });
 */
import { request } from 'node:http';

export interface ReaderEvent {
  /** When the event's last byte arrived (epoch ms). */
  at: number;
  id: string;
  /** The page's count of succeeded servers (its `p.counts` line). */
  succeeded: number;
}

export interface ReaderResult {
  events: ReaderEvent[];
  /** `server|state` → when an `update` first showed that server in that state (the servers of the page shown). */
  firstSeen: Record<string, number>;
  /** The stream said `end` (the deployment is final). */
  ended: boolean;
  error?: string;
}

export type ReadersMessage =
  | { type: 'ready'; firstIds: string[] }
  | { type: 'results'; readers: ReaderResult[] }
  | { type: 'failed'; message: string };

export type ReadersCommand = { type: 'open'; url: string; count: number; broken: number } | { type: 'collect'; waitMs: number };

/** What an `update`'s HTML says: the succeeded count and each shown server's state (deployment-live-html.ts). */
export function parseLiveView(html: string): { succeeded: number; servers: Array<[name: string, state: string]> } {
  const counts = /<p class="counts">([\s\S]*?)<\/p>/.exec(html)?.[1] ?? '';
  const succeeded = Number(/class="state succeeded"[^>]*>succeeded (\d+)</.exec(counts)?.[1] ?? 0);
  const servers = [...html.matchAll(/<section><h3>([^<\s]+) <span class="state (\w+)">/g)].map((m) => [m[1]!, m[2]!] as [string, string]);
  return { succeeded, servers };
}

/** Folds one `update` into a reader's notes. */
export function noteUpdate(result: ReaderResult, at: number, id: string, html: string): void {
  const view = parseLiveView(html);
  result.events.push({ at, id, succeeded: view.succeeded });
  for (const [name, state] of view.servers) result.firstSeen[`${name}|${state}`] ??= at;
}

const now = () => performance.timeOrigin + performance.now();

function openReader(url: URL, broken: boolean, onFirst: () => void): { result: ReaderResult; done: Promise<void> } {
  const result: ReaderResult = { events: [], firstSeen: {}, ended: false };
  let updates = 0;
  const done = new Promise<void>((resolve) => {
    const req = request(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        result.error = `HTTP ${res.statusCode}`;
        res.resume();
        return resolve();
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const at = now();
        buffer += chunk;
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          let id = '';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event === 'end') result.ended = true;
          if (event !== 'update') continue;
          updates++;
          if (broken && updates % 2 === 0) continue;
          noteUpdate(result, at, id, (JSON.parse(data) as { html: string }).html);
          if (result.events.length === 1) onFirst();
        }
      });
      res.on('end', resolve);
      res.on('error', (err) => {
        result.error = err.message;
        resolve();
      });
    });
    req.on('error', (err) => {
      result.error = err.message;
      resolve();
    });
    req.end();
  });
  return { result, done };
}

let readers: Array<{ result: ReaderResult; done: Promise<void> }> = [];

function send(message: ReadersMessage, then?: () => void): void {
  if (process.send && process.connected) process.send(message, undefined, {}, () => then?.());
  else then?.();
}

process.on('message', (message: ReadersCommand) => {
  if (message.type === 'open') {
    const url = new URL(message.url);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) return send({ type: 'failed', message: `the readers only speak to loopback, not ${url.hostname}` });
    let waiting = message.count;
    const first = () => {
      if (--waiting === 0) send({ type: 'ready', firstIds: readers.map((r) => r.result.events[0]!.id) });
    };
    readers = Array.from({ length: message.count }, (_, i) => openReader(url, i < message.broken, first));
    // A stream that ends before its first update never becomes ready: say so instead of leaving the parent waiting.
    for (const r of readers) {
      void r.done.then(() => {
        if (!r.result.events.length) send({ type: 'failed', message: `a reader's stream ended before its first update: ${r.result.error ?? 'no error'}` });
      });
    }
  } else if (message.type === 'collect') {
    const timeout = new Promise((r) => setTimeout(r, message.waitMs).unref());
    void Promise.race([Promise.all(readers.map((r) => r.done)), timeout]).then(() => {
      send({ type: 'results', readers: readers.map((r) => r.result) }, () => process.exit(0));
    });
  }
});
// The parent went away: nothing here may outlive it.
process.on('disconnect', () => process.exit(3));
