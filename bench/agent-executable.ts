/**
 * Issue 17's figures for the self-contained agent executable (built here for this platform by packaging/):
 *
 *   agent_exe_mb            the executable's size
 *   agent_cold_start_ms     process started → its first long poll reaches the hub (through a proxy), median of
 *                           BENCH_AGENT_STARTS (default 10) starts; target ≤ 300
 *   agent_idle_rss_mb       resident memory of the enrolled, idle executable (median and max over
 *                           BENCH_AGENT_IDLE_SECONDS, default 30); target ≤ 50. Measured twice: with the executable's
 *                           file just written (its pages in the page cache as written, which the kernel maps in large
 *                           pieces) and with them evicted first (as after a reboot: read back through readahead)
 *   agent_after_job_rss_mb  the same agent a few seconds after it deployed the sample application once
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostTarget, packageAgent } from '../packaging/package-agent.js';
import { startCountingProxy } from '../testbed/counting-proxy.js';
import { createEnrollTokenCli, runCli, startCli, type CliProgram } from '../testbed/processes.js';
import { startWorld } from '../testbed/world.js';
import { percentile } from './percentile.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rssOf(pid: number): Promise<{ rss: number; anon: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon') };
}

/** Drops the file's pages from the page cache (python3's posix_fadvise; Node has none); false where that is not possible. */
function evictFromPageCache(file: string): boolean {
  try {
    execFileSync('python3', ['-c', 'import os,sys\nfd=os.open(sys.argv[1],os.O_RDONLY)\nos.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)', file]);
    return true;
  } catch {
    return false;
  }
}

async function sampleRss(pid: number, seconds: number) {
  const samples: { rss: number; anon: number }[] = [];
  for (const end = Date.now() + seconds * 1000; Date.now() < end; ) {
    await sleep(1000);
    samples.push(await rssOf(pid));
  }
  const rss = samples.map((s) => s.rss);
  const round = (n: number) => Math.round(n * 10) / 10;
  return { median: round(percentile(rss, 50)), max: round(Math.max(...rss)), anon_median: round(percentile(samples.map((s) => s.anon), 50)) };
}

export async function measureAgentExecutable(options: { starts: number; idleSeconds: number }) {
  const target = hostTarget();
  if (!target) throw new Error(`no agent executable is built for ${process.platform}-${process.arch}`);
  const root = await mkdtemp(join(tmpdir(), 'bitenvoy-bench-exe-'));
  const world = await startWorld({ agents: 0, hubEnv: { BITENVOY_CONFIG_REFRESH_SECONDS: '3600', LOG_LEVEL: 'warn' } });
  try {
    const built = await packageAgent({ outDir: join(root, 'release'), targets: [target] });
    const exe = built.executables[0]!;
    const program: CliProgram = { command: [exe.file], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root } };
    let firstPoll: (() => void) | undefined;
    const proxy = await startCountingProxy(world.hub.url, (method, path) => {
      if (method === 'GET' && path.includes('/jobs/next')) firstPoll?.();
    });
    const dir = join(root, 'agent');
    await runCli(['agent', 'enroll', '--hub', proxy.url, '--token', await createEnrollTokenCli(world.dataDir), '--dir', dir, '--name', 'web-1', '--labels', 'role=web'], {}, undefined, program);

    const starts: number[] = [];
    for (let i = 0; i < options.starts; i++) {
      const polled = new Promise<number>((resolve) => (firstPoll = () => resolve(performance.now())));
      const started = performance.now();
      const agent = startCli('exe', ['run', '--dir', dir], { program, env: { LOG_LEVEL: 'warn' } });
      starts.push((await Promise.race([polled, agent.exited.then(() => NaN)])) - started);
      firstPoll = undefined;
      await agent.stop();
    }
    if (starts.some(Number.isNaN)) throw new Error('the agent executable exited before its first long poll');

    const idle = async (evict: boolean) => {
      const evicted = evict && evictFromPageCache(exe.file);
      const agent = startCli('exe', ['run', '--dir', dir], { program, env: { LOG_LEVEL: 'warn' } });
      await sleep(2000);
      const figures = await sampleRss(agent.child.pid!, options.idleSeconds);
      return { agent, figures: { ...figures, ...(evict ? { page_cache_evicted: evicted } : {}) } };
    };
    const asWritten = await idle(false);
    await asWritten.agent.stop();
    const evicted = await idle(true);
    const { deployment } = await world.deploy();
    const view = await world.waitForDeployment(deployment.id, 120_000);
    if (view.deployment.state !== 'success') throw new Error(`the executable's deployment ended ${view.deployment.state}: ${view.deployment.description}`);
    await sleep(3000);
    const afterJob = await sampleRss(evicted.agent.child.pid!, 5);
    await evicted.agent.stop();
    await proxy.close();
    const round = (n: number) => Math.round(n);
    return {
      agent_exe_mb: { value: Math.round(exe.bytes / 1e5) / 10, platform: target },
      agent_cold_start_ms: { p50: round(percentile(starts, 50)), runs: starts.map(round), target: 300 },
      agent_idle_rss_mb: { ...evicted.figures, file_just_written: asWritten.figures, seconds: options.idleSeconds, target: 50 },
      agent_after_job_rss_mb: afterJob,
    };
  } finally {
    await world.close();
    await rm(root, { recursive: true, force: true });
  }
}
