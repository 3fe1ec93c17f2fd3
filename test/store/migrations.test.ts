/**
 * The schema on both backends: an empty database migrates to the newest version (on PostgreSQL with every text column
 * comparing bytes), two hubs starting at once on one empty store migrate it once, and a store written by a newer
 * release is refused, saying what to do. (A SQLite store of release 0 moving into the tables: migrate-release-0.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { openStore } from '../../app/store/open-store.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);

  it('migrates an empty store to the newest schema, every version once', async () => {
    const versions = await stores.store.db.all<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(versions.map((v) => [Number(v.version), v.name])).toEqual([
      [1, 'key-value table'],
      [2, 'document tables and job counters'],
      [3, 'records move from kv into their tables'],
      [4, 'GitHub effects outbox'],
      [5, 'GitHub effects claimed by one sender'],
      [6, 'environment status indexes'],
      [7, 'jobs by agent'],
      [8, 'what each server runs now'],
      [9, 'striped job counters and totals'],
      [10, 'pending jobs by age and key'],
    ]);
    for (const table of ['kv', 'deployments', 'jobs', 'job_counts', 'agents', 'audit_entries', 'log_entries', 'totals', 'github_effects', 'releases']) {
      expect(Number((await stores.store.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n)).toBe(0);
    }
  });

  it.skipIf(backend.name !== 'postgres')('keeps every text column of the schema in byte order (COLLATE "C"), whatever the database locale', async () => {
    const columns = await stores.store.db.all<{ table_name: string; column_name: string; collation_name: string | null }>(
      "SELECT table_name, column_name, collation_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'text' AND table_name <> 'schema_migrations' ORDER BY table_name, column_name",
    );
    expect(columns.length).toBeGreaterThan(30);
    expect(columns.filter((c) => c.collation_name !== 'C')).toEqual([]);
  });

  // PostgreSQL only: SQLite's hubs are processes on one file, whose lock serializes them; two connections of one
  // process (this test) would block its thread on each other's migration.
  it.skipIf(backend.name !== 'postgres')('migrates once when three hubs open one empty database at the same moment', async () => {
    await stores.store.db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const [a, b, c] = await Promise.all([stores.open(), stores.open(), stores.open()]);
    expect((await a.db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await b.set('agent:ag_1', { id: 'ag_1', name: 'web-1' });
    expect(await c.get('agent:ag_1')).toEqual({ id: 'ag_1', name: 'web-1' });
  });

  it('refuses a store written by a newer release, saying what to do', async () => {
    await stores.store.db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', '2030-01-01')");
    const opened = openStore(stores.options);
    await expect(opened).rejects.toMatchObject({ code: 'BE_STORE_NEWER' });
    const where = backend.name === 'postgres' ? `postgres://postgres@[^ ]+/${stores.databaseName}` : '/.+/hub\\.sqlite';
    await expect(opened).rejects.toThrow(
      new RegExp(`^the store ${where} has schema version 99, newer than this BitEnvoy knows \\(10\\): a newer release wrote it\\. Run that release \\(or newer\\), or restore a backup made before the upgrade$`),
    );
  });
});
