/**
 * What the replica chaos tests (test/e2e/replica-chaos*.test.ts) share: seeded randomness — the moments a test kills
 * a process come from a small generator whose seed is printed, so a failing run can be replayed exactly with
 * `BITENVOY_CHAOS_SEED=<seed>` —, the release and strategy they deploy, and a replica's gauge read from `/metrics`.
 *
 * @example
 * const { seed, random } = chaosSeed();
 * console.log(`seed ${seed} (replay with BITENVOY_CHAOS_SEED=${seed})`);
 * await sleep(300 + Math.floor(random() * 2500));
 * const leads = (await replicaGauge(replica.proc, 'bitenvoy_leader', ADMIN)) === 1;
 */
import { randomInt } from 'node:crypto';
import { seeded } from './seeded-random.js';

/** The seed of this run (`BITENVOY_CHAOS_SEED`, else a random one) and its generator. */
export function chaosSeed(env: NodeJS.ProcessEnv = process.env): { seed: number; random: () => number } {
  const given = env.BITENVOY_CHAOS_SEED;
  const seed = given === undefined || given === '' ? randomInt(2 ** 31) : Number(given);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`BITENVOY_CHAOS_SEED: expected a whole number printed by an earlier run, got ${JSON.stringify(given)}`);
  return { seed, random: seeded(seed) };
}

/** Each step leaves `<deployment> <step>` in its server's own file (MARKER_FILE), so a step that ran twice shows. */
export const CHAOS_STEPS = `version: 1
steps:
  - name: prepare
    run: |
      echo "$BITENVOY_DEPLOYMENT_ID prepare" >> "$MARKER_FILE"
      sleep 1
  - name: switch
    run: echo "$BITENVOY_DEPLOYMENT_ID switch" >> "$MARKER_FILE"
    afterSwitch: true
`;

/** Batches of half the servers with a pause between that only the leader's timer ends: a dead leader must be replaced. */
export const CHAOS_STRATEGIES = `strategies:
  chaos:
    type: rolling
    batchSize: 50%
    pause: 1s
`;

/** A replica's gauge without labels, or undefined while it does not answer (or is not running). */
export async function replicaGauge(proc: { url: string } | undefined, name: string, adminToken: string): Promise<number | undefined> {
  if (!proc) return undefined;
  try {
    const res = await fetch(`${proc.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(3000) });
    const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  } catch {
    return undefined;
  }
}
