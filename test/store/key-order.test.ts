/**
 * Keys are byte strings on both backends: a prefix range holds exactly the keys that start with the prefix, and key
 * order is byte order — also on a PostgreSQL database whose locale orders text otherwise (the test databases use ICU
 * `en-US`, where `a_b` < `a-b` < `aB` < `ab`; in bytes `a-b` < `aB` < `a_b` < `ab`).
 */
import { describe, expect, it } from 'vitest';
import { listAudit, pageOfAudit } from '../../app/audit/audit-log.js';
import { STORE_BACKENDS, useStoreBackend, withAdminClient } from '../helpers/store-backends.js';

/** Suffixes a locale collation orders differently from bytes (punctuation, case, accents). */
const SUFFIXES = ['a-b', 'a_b', 'aB', 'ab', 'a', 'a b', 'a.b', 'A', 'b', 'é', 'a~', 'Z'];
const BYTE_ORDER = [...SUFFIXES].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);

  it.skipIf(backend.name !== 'postgres')('runs on a database whose own collation would order these keys otherwise', async () => {
    const ordered = await withAdminClient(async (client) => (await client.query<{ k: string }>(`SELECT k FROM unnest($1::text[]) AS k ORDER BY k`, [SUFFIXES])).rows.map((r) => r.k), stores.databaseName);
    const icu = await withAdminClient(async (client) => (await client.query("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'")).rowCount, stores.databaseName);
    // A server without ICU (PostgreSQL built without it) orders by its libc locale; the other tests prove less there.
    if (icu) expect(ordered).not.toEqual(BYTE_ORDER);
  });

  it('lists a record prefix in byte order, without the neighbours that share its start', async () => {
    const { store } = stores;
    for (const suffix of SUFFIXES) await store.set(`log:job_x:${suffix}`, { suffix });
    // Neighbours: the same start without the separator, and the next job id.
    await store.set('log:job_x', { suffix: 'none' });
    await store.set('log:job_x-2:a', { suffix: 'other' });
    await store.set('log:job_y:a', { suffix: 'other' });
    expect((await store.list<{ suffix: string }>('log:job_x:')).map((e) => e.value.suffix)).toEqual(BYTE_ORDER);
    const ordered = await store.db.all<{ key: string }>("SELECT key FROM log_entries WHERE key >= ? AND key < ? ORDER BY key", 'log:job_x:', 'log:job_x:\uffff');
    expect(ordered.map((r) => r.key.slice('log:job_x:'.length))).toEqual(BYTE_ORDER);
  });

  it('lists a kv prefix in byte order, and pages audit entries by key the same way', async () => {
    const { store } = stores;
    for (const suffix of SUFFIXES) await store.set(`env-slot:${suffix}`, suffix);
    await store.set('env-slot', 'none');
    await store.set('env-slots:a', 'other');
    expect((await store.list<string>('env-slot:')).map((e) => e.value)).toEqual(BYTE_ORDER);

    // Audit keys are `audit:<time>:<id>`: entries of one millisecond order by their id's bytes.
    const at = '2026-12-01T10:00:00.000Z';
    const ids = ['0000000a', '0000000A', '0000000_', '0000000-'];
    for (const id of ids) await store.set(`audit:${at}:${id}`, { at, actor: 'api', action: 'deploy', outcome: id });
    const byBytes = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect((await listAudit(store)).map((e) => e.outcome)).toEqual(byBytes);
    const newest = await pageOfAudit(store, { limit: 2 });
    expect(newest.entries.map((e) => e.outcome)).toEqual(byBytes.slice(2));
  });
});
