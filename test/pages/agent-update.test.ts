import { expect, it } from 'vitest';
import { agentUpdateNotice } from '../../app/pages/agent-update.js';

it.each([
  ['0.1.0', '0.2.0', 'agent update available: 0.1.0 → 0.2.0 (bitenvoy agent upgrade)'],
  ['0.9.9', '1.0.0', 'agent update available: 0.9.9 → 1.0.0 (bitenvoy agent upgrade)'],
  ['0.10.0', '0.9.0', undefined],
  ['0.2.0', '0.2.0', undefined],
  ['0.2.0-rc.1', '0.2.0', undefined],
  ['test', '0.2.0', undefined],
])('an agent %s under a hub %s: %s', (agent, hub, notice) => {
  expect(agentUpdateNotice(agent, hub)).toBe(notice);
});
