import { mkdir, mkdtemp, readlink, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { artifactsInUse, currentRelease, pruneReleases, recordLiveRelease, releasePaths, switchCurrent } from '../../agent/releases.js';

let dir: string;
afterEach(async () => rm(dir, { recursive: true, force: true }));

it('switches current atomically and prunes old releases, never the current one', async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-releases-'));
  const ids = ['job_1', 'job_2', 'job_3', 'job_4'];
  for (const [i, id] of ids.entries()) {
    const paths = releasePaths(dir, 'acme/shop', 'staging', id);
    await mkdir(paths.release, { recursive: true });
    await utimes(paths.release, 1000 + i, 1000 + i);
  }
  // The oldest release is current (a rollback, say): it must survive pruning.
  const oldest = releasePaths(dir, 'acme/shop', 'staging', 'job_1');
  await switchCurrent(oldest);
  expect(await readlink(oldest.current)).toBe(join('releases', 'job_1'));
  const removed = await pruneReleases(oldest, 2);
  expect(removed.sort()).toEqual(['job_2']);
  expect((await readdir(oldest.releases)).sort()).toEqual(['job_1', 'job_3', 'job_4']);

  await switchCurrent(releasePaths(dir, 'acme/shop', 'staging', 'job_4'));
  expect(await readlink(oldest.current)).toBe(join('releases', 'job_4'));
  expect(await currentRelease(oldest)).toBe('job_4');
});

it('lists the artifacts every kept release of every application was made of, and keeps them when a release goes live again', async () => {
  dir = await mkdtemp(join(tmpdir(), 'bitenvoy-releases-'));
  const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(64));
  const shop1 = releasePaths(dir, 'acme/shop', 'staging', 'job_1');
  const shop2 = releasePaths(dir, 'acme/shop', 'staging', 'job_2');
  const site = releasePaths(dir, 'acme/site', 'production', 'job_3');
  for (const paths of [shop1, shop2, site]) await mkdir(paths.release, { recursive: true });
  await recordLiveRelease(shop1, '1'.repeat(40), [a!]);
  await recordLiveRelease(shop2, '2'.repeat(40), [b!]);
  await recordLiveRelease(site, '3'.repeat(40), [c!]);
  expect([...(await artifactsInUse(dir))].sort()).toEqual([a, b, c]);

  // job_1 goes live again (a rollback to it): still made of `a`. A release that is gone keeps nothing in the cache.
  await recordLiveRelease(shop1, '1'.repeat(40));
  await rm(shop2.release, { recursive: true });
  expect([...(await artifactsInUse(dir))].sort()).toEqual([a, c]);
});
