/**
 * Seeded randomness for chaos tests: the moments a test kills a process come from a small generator whose seed is
 * printed, so a failing run can be replayed exactly with `BITENVOY_CHAOS_SEED=<seed>`.
 *
 * @example
 * const { seed, random } = chaosSeed();
 * console.log(`seed ${seed} (replay with BITENVOY_CHAOS_SEED=${seed})`);
 * await sleep(300 + Math.floor(random() * 2500));
 */
import { randomInt } from 'node:crypto';

/** mulberry32: a small seeded generator of numbers in [0, 1), the same sequence for the same seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run (`BITENVOY_CHAOS_SEED`, else a random one) and its generator. */
export function chaosSeed(env: NodeJS.ProcessEnv = process.env): { seed: number; random: () => number } {
  const given = env.BITENVOY_CHAOS_SEED;
  const seed = given === undefined || given === '' ? randomInt(2 ** 31) : Number(given);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`BITENVOY_CHAOS_SEED: expected a whole number printed by an earlier run, got ${JSON.stringify(given)}`);
  return { seed, random: seeded(seed) };
}
