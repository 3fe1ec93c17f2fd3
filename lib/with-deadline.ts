/**
 * `work`, or a rejection after `ms` saying who did not answer: a request that does not answer in time fails like a
 * reset connection (the other side may or may not have done it). The timer never keeps the process alive.
 *
 * @example
 * await withDeadline(store.db.get('SELECT 1'), 2000, 'the store');
 */
export function withDeadline<T>(work: Promise<T>, ms: number, from: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from ${from} within ${ms / 1000} s`)), ms);
    timer.unref();
    work.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (err: unknown) => (clearTimeout(timer), reject(err instanceof Error ? err : new Error(String(err)))),
    );
  });
}
