/**
 * `bitenvoy logs`: each server's log of a deployment (`GET /api/v1/deployments/:id/servers/:jobId/log?after=`, read
 * forward by cursor), or one server's with `--server`. With `--follow` it keeps printing what comes next — only
 * that: each read starts at the previous one's cursor — until the deployment's event stream says it is final, then
 * prints its state. Everything printed is the agents' text: it goes through stripControls, so a hostile hub or agent
 * cannot drive the terminal.
 *
 * @example
 * bitenvoy logs dep_1a2b3c4d5e6f --follow
 * // web-1 | building shop version 2 at 4f2c…
 * // success: 2/2 servers succeeded
 */
import type { DeploymentSummary, ServerPage, ServerRow } from '../../app/rollout/deployment-view.js';
import { BitEnvoyError } from '../../lib/errors.js';
import { FINAL_JOB_STATES } from '../../lib/protocol.js';
import { oneLine, stripControls } from '../../lib/strip-controls.js';
import { synopsis } from '../command-registry.js';
import { print } from '../output.js';
import { adminRequest, resolveAdminTarget, type AdminTarget } from './admin-client.js';
import { checkSummary, followStream, isFinalSummary } from './follow-stream.js';
import { parseCommand } from './parse-options.js';

/** How often a followed deployment's running servers are asked for what their logs gained. */
const FOLLOW_TICK_MS = 1000;

interface LogRead {
  data: string;
  next: string;
  more: boolean;
  dropped?: boolean;
}

/** One server being printed: where its log was read up to, and the start of a line not ended yet. */
interface Reader {
  server: ServerRow;
  cursor: string;
  partial: string;
  /** Read once more after its job ended, then left alone. */
  done: boolean;
}

export async function logsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand('logs', args);
  const [id, ...extra] = positionals;
  if (!id || extra.length) throw new BitEnvoyError('BE_USAGE', `give one deployment id, e.g. \`bitenvoy logs dep_1a2b3c4d5e6f\`; usage: ${synopsis('logs')}`);
  const target = await resolveAdminTarget(values.hub, values.token);
  const base = `/deployments/${encodeURIComponent(id)}`;
  const readers = new Map<string, Reader>();
  // One server named: its lines alone; otherwise each line after its server's name.
  const prefix = values.server === undefined ? (r: Reader) => `${oneLine(r.server.agentName)} | ` : () => '';

  const refresh = async (): Promise<void> => {
    for (const server of await listServers(target, base, values.server)) {
      const known = readers.get(server.jobId);
      if (known) known.server = server;
      else readers.set(server.jobId, { server, cursor: '0.0', partial: '', done: false });
    }
  };
  const readAll = async (final: boolean): Promise<void> => {
    for (const reader of readers.values()) {
      if (reader.done || reader.server.state === 'pending') continue;
      await readNew(target, base, reader, prefix(reader));
      if (final || FINAL_JOB_STATES.includes(reader.server.state)) {
        reader.done = true;
        if (reader.partial) print(prefix(reader) + reader.partial);
        reader.partial = '';
      }
    }
  };

  await refresh();
  if (values.server !== undefined && readers.size === 0) throw await unknownServer(target, base, values.server);
  if (!values.follow) {
    await readAll(true);
    return 0;
  }

  let changed = true;
  let summary: DeploymentSummary | undefined;
  const ended = followUntilFinal(target, id, (s) => {
    summary = s;
    changed = true;
  });
  let finished = false;
  void ended.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    // Servers start batch by batch: the list is read again only when the deployment changed.
    if (changed) {
      changed = false;
      await refresh();
    }
    await readAll(false);
    await Promise.race([ended.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, FOLLOW_TICK_MS))]);
  }
  await ended;
  // What each server printed last, and the deployment's end.
  await refresh();
  await readAll(true);
  const d = summary!.deployment;
  print(`${oneLine(d.state)}: ${oneLine(d.description)}`);
  return d.state === 'success' ? 0 : 1;
}

/** The deployment's servers in plan order (one page after another), or the one `server` names. */
async function listServers(target: AdminTarget, base: string, server: string | undefined): Promise<ServerRow[]> {
  const rows: ServerRow[] = [];
  let after: string | undefined;
  do {
    const page = await adminRequest<ServerPage>(target, 'GET', `${base}/servers?limit=200${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    rows.push(...page.servers.filter((s) => server === undefined || s.agentName === server || s.jobId === server));
    after = page.next;
  } while (after);
  return rows;
}

/** `--server` matched nothing: the names there are (the first 20). */
async function unknownServer(target: AdminTarget, base: string, server: string): Promise<BitEnvoyError> {
  const names = (await listServers(target, base, undefined)).map((s) => oneLine(s.agentName));
  return new BitEnvoyError('BE_USAGE', `the deployment has no server \`${oneLine(server)}\` (an agent name or a job id); its servers: ${names.slice(0, 20).join(', ') || 'none yet'}${names.length > 20 ? `, … ${names.length - 20} more` : ''}`);
}

/** Prints what the server's log gained since its cursor, whole lines only (the rest waits for its newline). */
async function readNew(target: AdminTarget, base: string, reader: Reader, prefix: string): Promise<void> {
  for (;;) {
    const read = await adminRequest<LogRead>(target, 'GET', `${base}/servers/${encodeURIComponent(reader.server.jobId)}/log?after=${encodeURIComponent(reader.cursor)}`);
    if (typeof read.data !== 'string' || typeof read.next !== 'string') {
      throw new BitEnvoyError('BE_INTERNAL', `the hub at ${target.hub} answered a log read without \`data\` and \`next\`; is it a BitEnvoy hub of this version?`);
    }
    if (read.dropped) print(`${prefix}[bitenvoy: part of this log was dropped before it was read; the hub keeps the newest 2 MiB per server]`);
    const text = reader.partial + stripControls(read.data);
    const lines = text.split('\n');
    reader.partial = lines.pop() ?? '';
    for (const line of lines) print(prefix + line);
    reader.cursor = read.next;
    if (!read.more) return;
  }
}

/**
 * Resolves with the final summary once the deployment ends: through its event stream, or by polling the summary
 * on a hub without one (or whose streams are all taken). `onChange` hears every summary.
 */
async function followUntilFinal(target: AdminTarget, id: string, onChange: (summary: DeploymentSummary) => void): Promise<void> {
  const outcome = await followStream(target, id, (summary) => {
    onChange(summary);
    return isFinalSummary(summary);
  });
  if (outcome === 'final') return;
  for (;;) {
    const summary = checkSummary(await adminRequest<unknown>(target, 'GET', `/deployments/${encodeURIComponent(id)}`), target.hub);
    onChange(summary);
    if (isFinalSummary(summary)) return;
    await new Promise((resolve) => setTimeout(resolve, outcome === 'busy' ? 2000 : FOLLOW_TICK_MS));
  }
}
