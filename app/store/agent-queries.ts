/**
 * Named queries over agents.
 *
 * @example
 * const agent = await agentByCredential(store, hashSecret(credential)); // index agents_by_credential
 */
import type { AgentRecord } from '../model.js';
import type { Store } from './store.js';
import { AGENT_COUNT, readTotal } from './document-writes.js';

interface DocRow {
  doc: string;
  last_seen_at: string | null;
}

/** An agent's record with its last heartbeat from the column heartbeats write (see recordLastSeen). */
export function agentFromRow(doc: string, lastSeenAt: string | null): AgentRecord {
  const agent = JSON.parse(doc) as AgentRecord;
  if (lastSeenAt) agent.lastSeenAt = lastSeenAt;
  return agent;
}

export async function agentByCredential(store: Store, credentialHash: string): Promise<AgentRecord | undefined> {
  const row = await store.db.get<DocRow>('SELECT doc, last_seen_at FROM agents WHERE credential_hash = ? LIMIT 1', credentialHash);
  return row ? agentFromRow(row.doc, row.last_seen_at) : undefined;
}

/**
 * Just the id, name and `lastSeenAt` of the agent with this credential, from the indexed columns (no record parsed):
 * what the long poll and the job routes need, 200 times a second with 10,000 idle agents.
 */
export async function agentIdentityByCredential(store: Store, credentialHash: string): Promise<AgentIdentity | undefined> {
  const row = await store.db.get<{ key: string; name: string | null; last_seen_at: string | null }>('SELECT key, name, last_seen_at FROM agents WHERE credential_hash = ? LIMIT 1', credentialHash);
  return row ? { id: row.key.slice('agent:'.length), name: row.name ?? '', lastSeenAt: row.last_seen_at ?? '' } : undefined;
}

export interface AgentIdentity {
  id: string;
  name: string;
  lastSeenAt: string;
}

/** Agents not seen since `beforeIso` (index agents_by_last_seen), the longest silent first. */
export async function agentsNotSeenSince(store: Store, beforeIso: string, limit: number): Promise<AgentRecord[]> {
  const rows = await store.db.all<DocRow>('SELECT doc, last_seen_at FROM agents WHERE last_seen_at < ? ORDER BY last_seen_at LIMIT ?', beforeIso, limit);
  return rows.map((row) => agentFromRow(row.doc, row.last_seen_at));
}

/** The agents with these ids, by id (missing ones are absent). */
export async function agentsById(store: Store, ids: readonly string[]): Promise<Map<string, AgentRecord>> {
  const unique = [...new Set(ids)];
  const records = await store.getMany<AgentRecord>(unique.map((id) => `agent:${id}`));
  return new Map(records.filter((a): a is AgentRecord => a !== undefined).map((a) => [a.id, a]));
}

/** A page of agents by name, and the name to continue after when there are more. */
export interface AgentPage {
  agents: AgentRecord[];
  next?: string;
}

/**
 * Agents in name order after `after` (index agents_by_name): a page costs the same with 10 or 10,000 agents.
 *
 * @example
 * const { agents, next } = await pageOfAgents(store, { limit: 50 });
 */
export async function pageOfAgents(store: Store, options: { after?: string; limit: number }): Promise<AgentPage> {
  const rows = await store.db.all<DocRow>('SELECT doc, last_seen_at FROM agents WHERE name > ? ORDER BY name, key LIMIT ?', options.after ?? '', options.limit + 1);
  const agents = rows.slice(0, options.limit).map((row) => agentFromRow(row.doc, row.last_seen_at));
  return { agents, ...(rows.length > options.limit && agents.length ? { next: agents[agents.length - 1]!.name } : {}) };
}

/**
 * How many agents are enrolled (a running total) and how many of them are lost — not seen since `lostBeforeIso`
 * (an index range: few, on a healthy fleet).
 */
export async function agentCounts(store: Store, lostBeforeIso: string): Promise<{ enrolled: number; lost: number }> {
  const enrolled = await readTotal(store.db, AGENT_COUNT);
  const lost = Number((await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM agents WHERE last_seen_at < ?', lostBeforeIso))?.n ?? 0);
  return { enrolled, lost };
}

/** Heartbeats per statement (two parameters each). */
const HEARTBEATS_PER_STATEMENT = 500;

/**
 * Writes a batch of heartbeats: each agent's `last_seen_at` column, never moved back, with one set-based `UPDATE … FROM
 * (VALUES …)` per {@link HEARTBEATS_PER_STATEMENT} agents, in one transaction — a statement for a hub's 2-second
 * batch, not one per agent (with PostgreSQL, a statement per heartbeat was two of a rollout's sixteen per job). Only the
 * column: it is the truth for `lastSeenAt` (every read of an agent takes it from there, see AGENTS.overlay), so 200
 * heartbeats a second do not rewrite 200 whole records.
 */
export async function recordLastSeen(store: Store, seen: ReadonlyMap<string, string>): Promise<void> {
  if (seen.size === 0) return;
  // PostgreSQL locks the rows in the order its plan meets them (a hash join over the table: the table's order), not in
  // the list's: two hubs writing overlapping batches may deadlock, and the store's transaction is then retried.
  // (`column1`, `column2`: what SQLite and PostgreSQL both call the columns of a VALUES list.)
  const entries = [...seen];
  const statements = [];
  for (let i = 0; i < entries.length; i += HEARTBEATS_PER_STATEMENT) {
    const chunk = entries.slice(i, i + HEARTBEATS_PER_STATEMENT);
    statements.push({
      sql: `UPDATE agents SET last_seen_at = v.column2 FROM (VALUES ${chunk.map(() => '(?, ?)').join(', ')}) AS v WHERE agents.key = v.column1 AND (agents.last_seen_at IS NULL OR agents.last_seen_at < v.column2)`,
      params: chunk.flatMap(([agentId, at]) => [`agent:${agentId}`, at]),
    });
  }
  await store.runBatch(statements);
}

/**
 * A page of the agents online (seen since `lostBeforeIso`) or lost (not seen since), by name after `after`. Lost
 * agents are read from index agents_by_last_seen (few, on a healthy fleet) and sorted by name here; online ones
 * walk agents_by_name skipping the lost.
 *
 * @example
 * const { agents, next } = await pageOfAgentsIn(store, { state: 'lost', lostBeforeIso, limit: 50 });
 */
export async function pageOfAgentsIn(store: Store, options: { state: 'online' | 'lost'; lostBeforeIso: string; after?: string; limit: number }): Promise<AgentPage> {
  const { state, lostBeforeIso, after = '', limit } = options;
  const rows =
    state === 'online'
      ? await store.db.all<DocRow>('SELECT doc, last_seen_at FROM agents WHERE name > ? AND last_seen_at >= ? ORDER BY name, key LIMIT ?', after, lostBeforeIso, limit + 1)
      : await store.db.all<DocRow>('SELECT doc, last_seen_at FROM agents WHERE last_seen_at < ? AND name > ? ORDER BY name, key LIMIT ?', lostBeforeIso, after, limit + 1);
  const agents = rows.slice(0, limit).map((row) => agentFromRow(row.doc, row.last_seen_at));
  return { agents, ...(rows.length > limit && agents.length ? { next: agents[agents.length - 1]!.name } : {}) };
}

/** What an agent may say its version is: `1.2.3`, `0.2.0-rc.1+build.5`. Anything else is not recorded. */
const AGENT_VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,49}$/;

/**
 * Records the version an agent reported on its poll (after an upgrade), when it is a version and differs from the
 * record's: one read (and a write only on a change) per agent start, never per poll (the agent sends it only until a
 * poll of it was answered). Returns whether the record changed.
 *
 * @example
 * await recordAgentVersion(store, agentId, '0.2.0'); // true once, false afterwards
 */
export async function recordAgentVersion(store: Store, agentId: string, version: string): Promise<boolean> {
  if (!AGENT_VERSION.test(version)) return false;
  let changed = false;
  await store.update<AgentRecord>(`agent:${agentId}`, (agent) => {
    if (!agent || agent.version === version) return agent;
    changed = true;
    return { ...agent, version };
  });
  return changed;
}
