/**
 * "agent update available" on the Agents pages: an agent older than the hub is told about, never updated — the hub
 * does not push code to agents; the server's owner runs `bitenvoy agent upgrade`.
 */
import { version as hubVersion } from '../../lib/package-root.js';

/** `1.2.3` (or `v1.2.3-rc.1`) → [1, 2, 3]; undefined when it is not such a version. */
function parts(version: string): number[] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  return match ? match.slice(1, 4).map(Number) : undefined;
}

/**
 * The notice for an agent of `agentVersion` under a hub of `hub`, or undefined when it is as new (or its version is
 * unknown, or not a version).
 *
 * @example
 * agentUpdateNotice('0.1.0', '0.2.0'); // 'agent update available: 0.1.0 → 0.2.0 (bitenvoy agent upgrade)'
 */
export function agentUpdateNotice(agentVersion: string, hub: string = hubVersion): string | undefined {
  const agent = parts(agentVersion);
  const latest = parts(hub);
  if (!agent || !latest) return undefined;
  for (let i = 0; i < 3; i++) {
    if (agent[i]! < latest[i]!) return `agent update available: ${agentVersion} → ${hub} (bitenvoy agent upgrade)`;
    if (agent[i]! > latest[i]!) return undefined;
  }
  return undefined;
}
