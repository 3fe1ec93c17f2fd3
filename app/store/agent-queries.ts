/**
 * Named queries over agents.
 *
 * @example
 * const agent = await agentByCredential(store, hashSecret(credential)); // index agents_by_credential
 */
import type { AgentRecord } from '../model.js';
import type { Store } from './store.js';

interface DocRow {
  doc: string;
}

export async function agentByCredential(store: Store, credentialHash: string): Promise<AgentRecord | undefined> {
  const row = await store.db.get<DocRow>('SELECT doc FROM agents WHERE credential_hash = ? LIMIT 1', credentialHash);
  return row ? (JSON.parse(row.doc) as AgentRecord) : undefined;
}

/** Agents not seen since `beforeIso` (index agents_by_last_seen), the longest silent first. */
export async function agentsNotSeenSince(store: Store, beforeIso: string, limit: number): Promise<AgentRecord[]> {
  const rows = await store.db.all<DocRow>('SELECT doc FROM agents WHERE last_seen_at < ? ORDER BY last_seen_at LIMIT ?', beforeIso, limit);
  return rows.map((row) => JSON.parse(row.doc) as AgentRecord);
}

/** The agents with these ids, by id (missing ones are absent). */
export async function agentsById(store: Store, ids: readonly string[]): Promise<Map<string, AgentRecord>> {
  const unique = [...new Set(ids)];
  const records = await store.getMany<AgentRecord>(unique.map((id) => `agent:${id}`));
  return new Map(records.filter((a): a is AgentRecord => a !== undefined).map((a) => [a.id, a]));
}
