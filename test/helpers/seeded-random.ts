/**
 * A small seeded generator of numbers in [0, 1) (mulberry32): the same sequence for the same seed on every machine,
 * so a test that draws from it names the seed that replays a failure.
 *
 * @example
 * const next = seeded(42);
 * const pick = Math.floor(next() * items.length);
 */
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
