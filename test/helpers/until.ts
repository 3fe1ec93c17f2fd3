/**
 * Polls `probe` until it gives a value (not `undefined`, not `false`), every `everyMs`; fails after `timeoutMs` naming
 * `what` was waited for.
 *
 * @example
 * const deployment = await until('a deployment', () => github.deployments.find((d) => d.sha === sha));
 */
export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
