/**
 * Hub replicas for the benchmarks: a new PostgreSQL database (on BENCH_DATABASE_URL's server, default
 * postgres://postgres@127.0.0.1:5432/postgres), a world (git server, config repo, replica `a` as its hub) on it, and
 * more replicas on the same database, config and admin token, each on its own port and folder. `close` stops them all
 * and drops the database.
 *
 * @example
 * const set = await startReplicaSet({ replicas: 3 });
 * set.replicas.map((r) => r.url); // three hubs, one store
 * await set.restart(0);           // after SIGKILLing it: the same replica again, same port and folder
 * await set.close();
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { startHubProcess, type HubProcess } from '../testbed/processes.js';
import { startWorld, type World, type WorldOptions } from '../testbed/world.js';
import { round, Simulator, waitForHolding } from './fleet.js';

export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ReplicaSet {
  world: World;
  /** Replica `a` (the world's hub), `b`, `c`…: replaced in place by {@link ReplicaSet.restart}. */
  replicas: HubProcess[];
  names: string[];
  /** The replicas' database (for a bench that reads what they wrote before it is dropped). */
  databaseUrl: string;
  /** Starts replica `i` again (same port, folder and environment) once it has exited. */
  restart(i: number): Promise<HubProcess>;
  close(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function startReplicaSet(options: { replicas: number; hubEnv?: NodeJS.ProcessEnv; github?: WorldOptions['github'] }): Promise<ReplicaSet> {
  const database = `bitenvoy_bench_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${database}`).catch((err: unknown) => {
    throw new Error(`cannot create a benchmark database on ${BENCH_DATABASE_URL.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}): start PostgreSQL or set BENCH_DATABASE_URL`, { cause: err });
  });
  const url = new URL(BENCH_DATABASE_URL);
  url.pathname = `/${database}`;
  const names = Array.from({ length: options.replicas }, (_, i) => String.fromCharCode(97 + i));
  let world: World | undefined;
  const replicas: HubProcess[] = [];
  const close = async () => {
    // The other replicas first: the world stops the first one (or finds it dead already).
    await Promise.all(replicas.slice(1).map((r) => r.stop(5000)));
    if (replicas[0] && replicas[0] !== world?.hub) await replicas[0].stop(5000);
    await world?.close();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  };
  try {
    world = await startWorld({
      agents: 0,
      ...(options.github ? { github: options.github } : {}),
      hubEnv: { LOG_LEVEL: 'warn', BITENVOY_CONFIG_REFRESH_SECONDS: '3600', BITENVOY_DATABASE_URL: url.toString(), BITENVOY_ADMIN_TOKEN: 'bench-replicas-admin-token', ...options.hubEnv },
    });
    replicas.push(world.hub);
    const start = (i: number, port?: number) => startHubProcess({ dataDir: join(world!.root, `hub-${names[i]}`), env: world!.hubEnv, name: `hub-${names[i]}`, ...(port ? { port } : {}) });
    for (let i = 1; i < options.replicas; i++) replicas.push(await start(i));
    return {
      world,
      replicas,
      names,
      databaseUrl: url.toString(),
      async restart(i) {
        const old = replicas[i]!;
        await old.exited;
        // Replica `a` keeps the world's data folder; the others their own.
        replicas[i] = i === 0 ? await startHubProcess({ dataDir: world!.dataDir, env: world!.hubEnv, port: old.port }) : await start(i, old.port);
        return replicas[i]!;
      },
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/** The simulator, started with `count` agents over every replica of `set`, once every poll is held. */
export async function startFleet(set: ReplicaSet, count: number, concurrency: number, deadlineSeconds: number, log: (line: string) => void): Promise<Simulator> {
  const sim = new Simulator();
  const enrolled = sim.next('enrolled', deadlineSeconds * 1000);
  const [a] = set.replicas as [HubProcess];
  sim.send({ type: 'start', hubUrl: a.url, hubUrls: set.replicas.map((r) => r.url), adminToken: a.adminToken, count, concurrency, deadlineSeconds });
  const { ms } = (await enrolled) as { ms: number };
  log(`${count} simulated agents enrolled over ${set.replicas.length} replicas in ${round(ms / 1000)} s`);
  await waitForHolding(sim, count, 300_000);
  return sim;
}
