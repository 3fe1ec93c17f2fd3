/**
 * The keyv adapter on the store's SQL database under a real `Keyv`, on both backends: namespaces, TTL, batch calls,
 * iteration; and on a real SQLite file, a second process writing into the same file while this one has it open (as
 * `bitenvoy hub token create` does).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Keyv, KeyvBridgeAdapter } from 'keyv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqlKeyvAdapter } from '../../app/store/sqlite-keyv-adapter.js';
import { openSqliteDatabase } from '../../app/store/sql/sqlite-database.js';
import { STORE_BACKENDS, useStoreBackend } from '../helpers/store-backends.js';

function openAdapter(path: string): SqlKeyvAdapter {
  const db = openSqliteDatabase(path);
  db.runSync('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER)');
  return new SqlKeyvAdapter(db);
}

describe.each(STORE_BACKENDS)('on $name', (backend) => {
  const stores = useStoreBackend(backend);
  let adapter: SqlKeyvAdapter;
  beforeEach(() => {
    adapter = new SqlKeyvAdapter(stores.store.db);
  });

  function keyvOn(namespace: string): Keyv {
    return new Keyv({ store: new KeyvBridgeAdapter(adapter), namespace });
  }

  it('keeps namespaces apart, and clears only its own', async () => {
    const a = keyvOn('a');
    const b = keyvOn('b');
    await a.set('k', { from: 'a' });
    await b.set('k', { from: 'b' });
    expect(await a.get('k')).toEqual({ from: 'a' });
    expect(await b.get('k')).toEqual({ from: 'b' });
    await a.clear();
    expect(await a.get('k')).toBeUndefined();
    expect(await b.get('k')).toEqual({ from: 'b' });
    const seen: unknown[] = [];
    for await (const [key] of b.iterator()) seen.push(key);
    expect(seen).toEqual(['k']);
  });

  it('expires entries after their TTL, at the adapter and through Keyv', async () => {
    const kv = keyvOn('t');
    // Long enough that a loaded machine reads both before they expire (40 ms was not, under CI's parallel files).
    const ttlMs = 1000;
    await kv.set('short', 1, ttlMs);
    await kv.set('long', 2);
    await adapter.set('raw', 'x', ttlMs);
    expect(await kv.get('short')).toBe(1);
    expect(await adapter.has('raw')).toBe(true);
    await new Promise((r) => setTimeout(r, ttlMs + 100));
    expect(await kv.get('short')).toBeUndefined();
    expect(await kv.get('long')).toBe(2);
    expect(await adapter.get('raw')).toBeUndefined();
    expect(await adapter.listPrefix('')).toHaveLength(1);
  });

  it('answers getMany, hasMany and deleteMany in the order asked', async () => {
    await adapter.set('x:1', 'one');
    await adapter.set('x:3', 'three');
    expect(await adapter.getMany(['x:3', 'x:2', 'x:1'])).toEqual(['three', undefined, 'one']);
    expect(await adapter.hasMany(['x:1', 'x:2'])).toEqual([true, false]);
    expect(await adapter.deleteMany(['x:1', 'x:2', 'x:3'])).toEqual([true, false, true]);
    expect(await adapter.listPrefix('x:')).toEqual([]);
  });

  it('lists a prefix in key order without neighbours that share its start', async () => {
    for (const key of ['log:j1:000000002', 'log:j10:000000001', 'log:j1:000000001', 'log:j2:000000001', 'log:j1']) {
      await adapter.set(key, key);
    }
    expect((await adapter.listPrefix('log:j1:')).map((e) => e.key)).toEqual(['log:j1:000000001', 'log:j1:000000002']);
  });
});

describe('on a SQLite file', () => {
  let dir: string;
  let file: string;
  let adapter: SqlKeyvAdapter;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bitenvoy-sqlite-'));
    file = join(dir, 'nested', 'hub.sqlite');
    adapter = openAdapter(file);
  });
  afterEach(async () => {
    await adapter.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  it('sees what another process writes into the open file, and the other process sees ours', async () => {
    await adapter.set('from-test', { n: 1 });
    const script = `
      const { DatabaseSync } = require('node:sqlite');
      const db = new DatabaseSync(process.argv[1]);
      db.exec('PRAGMA busy_timeout = 5000');
      const row = db.prepare('SELECT value FROM kv WHERE key = ?').get('from-test');
      db.prepare('INSERT INTO kv (key, value, expires) VALUES (?, ?, NULL)').run('from-child', JSON.stringify({ saw: JSON.parse(row.value) }));
      db.close();
    `;
    await promisify(execFile)(process.execPath, ['-e', script, file]);
    expect(await adapter.get('from-child')).toEqual({ saw: { n: 1 } });
  });

  it('keeps everything across a reopen of the file', async () => {
    await adapter.set('session:1', { state: 'queued' });
    await adapter.disconnect();
    adapter = openAdapter(file);
    expect(await adapter.get('session:1')).toEqual({ state: 'queued' });
  });
});
