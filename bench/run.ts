/**
 * `npm run bench`: the foundation's figures, measured on real processes over loopback, printed and written to
 * bench/results.json. Figures are medians and 99th percentiles of one run; this machine is shared, so compare
 * figures from the same run.
 *
 *   dispatch_latency_ms      deployments API call returned → the idle agent holds the claimed job (20 runs)
 *   start_latency_ms         the same, up to the first step starting (includes fetching the commit)
 *   repeat_fetch_bytes_ratio bytes fetched by a second deployment after a one-file change ÷ by the first
 *   agent_npm_idle_rss_mb    resident memory of an enrolled, idle agent run as `node dist/cli/bitenvoy.js` (max over
 *                            the idle period); the executable's own figure is agent_idle_rss_mb (BENCH_ONLY=agent)
 *   agent_idle_requests_per_min  requests an idle agent makes to the hub, per minute
 *   github_requests_per_deployment  requests one automatic deployment makes to GitHub (the local stand-in), for
 *                            rollouts to 10, 100 and 1,000 simulated agents; target ≤ 12 at every size
 *   rollout_overhead_ms      all-at-once to 100 simulated agents whose step takes no time: API call → final state,
 *                            p50 of 5; target ≤ 500
 *   failure_detection_ms     a real agent SIGKILLed mid-step → its job marked failed, with the default lease
 *   discovery_join_ms        5,000 discovered instances joined with 5,000 agents' proved identities and a group
 *                            resolved over their cloud facts (no provider latency), p50 of 11; target ≤ 200
 *
 *   fleet_*, event_loop_max_ms, job_end_*  one hub with 1,000 and 10,000 simulated agents holding long polls: its
 *                            idle memory and CPU, and an all-at-once rollout to all of them (see bench/fleet.ts).
 *                            Minutes long: measured only with BENCH_ONLY=fleet, or in the full run with BENCH_FLEET=1
 *   replica_wake_ms, leader_failover_s, fleet_rollout_s.postgres, replica_idle_rss_mb, webhook_ingest_per_s
 *                            three hub replicas on PostgreSQL (see bench/replicas.ts). Minutes long and needs PostgreSQL:
 *                            measured only with BENCH_ONLY=replicas
 *   page_ms                  the slowest p50 of the deployments list, GET /api/v1/deployments and a deployment page
 *                            with 100,000 deployments in the store (BENCH_PAGES_DEPLOYMENTS; see bench/pages.ts);
 *                            target ≤ 20
 *   dashboard_page_ms        the slowest p50 of the Environments, an Environment and a Deployment page, with the same
 *                            100,000 deployments over 200 repository × environment pairs and 1,000 agents
 *                            (BENCH_PAGES_AGENTS); target ≤ 50
 *   live_update_ms, live_pages_extra_cpu_s  a rollout to 1,000 simulated agents watched by 100 live deployment pages
 *                            (node:http readers in a child process) and 3 Chromium pages: event to reader p50 / p95 /
 *                            max, events each reader missed, and the hub's extra CPU seconds against the same rollout
 *                            unwatched (see bench/live-updates.ts); target p50 ≤ 500. BENCH_LIVE_AGENTS, _READERS,
 *                            _BROWSERS, _ROUNDS, _CONCURRENCY change its sizes
 *
 *   agent_exe_mb, agent_cold_start_ms, agent_idle_rss_mb, agent_after_job_rss_mb  issue 17: the self-contained agent
 *                            executable built for this platform (see bench/agent-executable.ts). Measured only with
 *                            BENCH_ONLY=agent
 *
 *   artifact_download_vs_curl, artifact_download_rss_mb, artifact_repeat_bytes, artifact_unpack_vs_tar  issue 16: a
 *                            BENCH_ARTIFACT_MB (default 200) file downloaded from a local server by curl and by the
 *                            agent's downloader in a child process (median of 3 alternating runs; throughput ratio,
 *                            target ≥ 0.9; the child's peak RSS, target ≤ 100 MB; bytes a repeat transfers, target 0),
 *                            and a BENCH_ARTIFACT_UNPACK_MB (default 100) tar.gz unpacked by the agent against
 *                            `tar -xzf` (ratio = tar's time ÷ ours). Measured only with BENCH_ONLY=artifacts
 *
 * BENCH_IDLE_SECONDS shortens the idle period (default 120), BENCH_REPETITIONS the latency runs (default 20) and
 * BENCH_GITHUB_SIZES the simulated rollout sizes (default 10,100,1000). BENCH_ONLY=github, rollout, discovery, idle, agent, artifacts,
 * fleet, pages, live or replicas measures only those figures. Figures are merged into bench/results.json: keys not measured keep their value.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.js';
import { DASHBOARD_PAGE_TARGET_MS, measurePages, PAGE_TARGET_MS } from './pages.js';
import { startCountingProxy } from '../testbed/counting-proxy.js';
import { pushCommit } from '../testbed/git-repos.js';
import { createEnrollTokenCli, runCli, startCli } from '../testbed/processes.js';
import { SAMPLE_REPOSITORY, sampleAppFiles } from '../testbed/sample-app.js';
import { startWorld, type DeploymentView, type World } from '../testbed/world.js';
import { measureAgentExecutable } from './agent-executable.js';
import { measureArtifactDownload } from './artifact-download.js';
import { measureArtifactUnpack } from './artifact-unpack.js';
import { measureDiscoveryJoin } from './discovery-join.js';
import { measureFleet } from './fleet.js';
import { measureGitHubRequests } from './github-requests.js';
import { measureLiveUpdates } from './live-updates.js';
import { percentile } from './percentile.js';
import { measureReplicas } from './replicas.js';
import { measureFailureDetection, measureRolloutOverhead } from './rollout-figures.js';

const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 20);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 120);
const GITHUB_SIZES = (process.env.BENCH_GITHUB_SIZES ?? '10,100,1000').split(',').map(Number);
const GITHUB_TARGET = 12;

async function githubFigure() {
  const figures = await measureGitHubRequests(GITHUB_SIZES);
  return { sizes: figures, max: Math.max(...figures.map((f) => f.requests)), target: GITHUB_TARGET };
}

interface JobTimes {
  claimedAt?: string;
  events?: Array<{ type: string; status?: string; at: string }>;
}

/** A deterministic pseudo-random application of ~1.2 MB in 300 files, so fetch sizes mean something. */
function benchAppFiles(): Record<string, string> {
  const files: Record<string, string> = { ...sampleAppFiles('1') } as Record<string, string>;
  files['bitenvoy.yml'] = 'version: 1\nsteps:\n  - name: noop\n    run: "true"\n';
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let f = 0; f < 300; f++) {
    let text = '';
    while (text.length < 4000) text += next().toString(36);
    files[`src/module-${f}.txt`] = text + '\n';
  }
  return files;
}

async function measureDeployments(world: World) {
  const appPath = `/${SAMPLE_REPOSITORY}.git`;
  const before1 = world.git.bytesSent(appPath);
  const first = await world.deploy();
  await expectSuccess(world, first.deployment.id);
  const firstBytes = world.git.bytesSent(appPath) - before1;

  await pushCommit(world.appRepo, { 'src/module-7.txt': 'changed\n' }, 'one-file change');
  const before2 = world.git.bytesSent(appPath);
  const second = await world.deploy();
  await expectSuccess(world, second.deployment.id);
  const repeatBytes = world.git.bytesSent(appPath) - before2;

  const dispatch: number[] = [];
  const start: number[] = [];
  for (let i = 0; i < REPETITIONS; i++) {
    // Let the agent get back into its long poll: the figure is for an idle agent.
    await new Promise((r) => setTimeout(r, 300));
    const { deployment } = await world.deploy();
    const returned = Date.now();
    const view = await expectSuccess(world, deployment.id);
    const job = view.jobs[0] as unknown as JobTimes;
    const started = job.events?.find((e) => e.type === 'step' && e.status === 'started');
    if (!job.claimedAt || !started) throw new Error(`deployment ${deployment.id} has no claim or step start: ${JSON.stringify(job)}`);
    // The hub may hand the job out before its HTTP answer reaches us: that counts as 0.
    dispatch.push(Math.max(0, Date.parse(job.claimedAt) - returned));
    start.push(Math.max(0, Date.parse(started.at) - returned));
  }
  return { firstBytes, repeatBytes, dispatch, start };
}

async function expectSuccess(world: World, id: string): Promise<DeploymentView> {
  const view = await world.waitForDeployment(id, 60_000);
  if (view.deployment.state !== 'success') throw new Error(`benchmark deployment ${id} ended ${view.deployment.state}: ${view.deployment.description}`);
  return view;
}

async function measureIdleAgent(world: World) {
  const proxy = await startCountingProxy(world.hub.url);
  const dir = join(world.root, 'agents', 'idle-1');
  const token = await createEnrollTokenCli(world.dataDir);
  // Labels outside every group: this agent never gets a job.
  await runCli(['agent', 'enroll', '--hub', proxy.url, '--token', token, '--dir', dir, '--name', 'idle-1', '--labels', 'role=idle']);
  const agent = startCli('idle-1', ['agent', 'run', '--dir', dir]);
  await new Promise((r) => setTimeout(r, 3000));
  const baseline = proxy.requests();
  const rss: number[] = [];
  const started = Date.now();
  while (Date.now() - started < IDLE_SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, 5000));
    const status = await readFile(`/proc/${agent.child.pid}/status`, 'utf8');
    rss.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024);
  }
  const minutes = (Date.now() - started) / 60_000;
  const requests = proxy.requests() - baseline;
  await agent.stop();
  await proxy.close();
  return { rssMax: Math.max(...rss), rssMedian: percentile(rss, 50), requestsPerMin: requests / minutes, requests, minutes };
}

async function rolloutFigures() {
  const overheads = await measureRolloutOverhead(100, 5);
  const detection = await measureFailureDetection();
  return {
    rollout_overhead_ms: { p50: percentile(overheads, 50), runs: overheads, agents: 100, target: 500 },
    failure_detection_ms: { value: detection.ms, lease_seconds: detection.leaseSeconds, heartbeat_seconds: detection.heartbeatSeconds },
  };
}

function discoveryFigure() {
  const join = measureDiscoveryJoin();
  return { p50: percentile(join.runs, 50), runs: join.runs, instances: 5000, agents: 5000, selected: join.selected, unknown: join.unknown, target: 200 };
}

function fleetFigures() {
  return measureFleet((process.env.BENCH_FLEET_SIZES ?? '1000,10000').split(',').map(Number), {
    idleSeconds: Number(process.env.BENCH_FLEET_IDLE_SECONDS ?? 60),
    rolloutSeconds: Number(process.env.BENCH_FLEET_ROLLOUT_SECONDS ?? 600),
    concurrency: Number(process.env.BENCH_FLEET_CONCURRENCY ?? 50),
    ...(process.env.BENCH_FLEET_HUB_NODE_OPTIONS ? { hubNodeOptions: process.env.BENCH_FLEET_HUB_NODE_OPTIONS } : {}),
  });
}

/** Figures two benches write parts of: `fleet_rollout_s.postgres` (replicas) beside the SQLite sizes (fleet). */
const NESTED_FIGURES = ['fleet_rollout_s'];

/**
 * Writes `figures` into bench/results.json over what it held: figures not measured this time keep their value, and
 * the {@link NESTED_FIGURES} are merged one level down, so one bench never drops another's part.
 */
async function mergeResults(figures: Record<string, unknown>, nested: string[] = NESTED_FIGURES): Promise<void> {
  const path = join(packageRoot(), 'bench', 'results.json');
  const before = JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  const merged = { ...before, ...figures };
  for (const key of nested) if (key in figures) merged[key] = { ...(before[key] as object | undefined), ...(figures[key] as object) };
  await writeFile(path, JSON.stringify(merged, null, 2) + '\n');
}

function replicaFigures() {
  const numbers = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').filter(Boolean).map(Number);
  return measureReplicas({
    figures: (process.env.BENCH_REPLICAS_FIGURES ?? 'wake,failover,fleet,idle,webhooks').split(','),
    wakeSamples: Number(process.env.BENCH_REPLICAS_WAKE_SAMPLES ?? 200),
    failovers: Number(process.env.BENCH_REPLICAS_FAILOVERS ?? 3),
    sizes: numbers('BENCH_REPLICAS_SIZES', '10000'),
    idleAgents: Number(process.env.BENCH_REPLICAS_IDLE ?? 30_000),
    idleSeconds: Number(process.env.BENCH_REPLICAS_IDLE_SECONDS ?? 60),
    concurrency: Number(process.env.BENCH_FLEET_CONCURRENCY ?? 50),
    webhookSeconds: Number(process.env.BENCH_REPLICAS_WEBHOOK_SECONDS ?? 20),
    webhookAgents: Number(process.env.BENCH_REPLICAS_WEBHOOK_AGENTS ?? 1000),
    webhookConcurrencies: (process.env.BENCH_REPLICAS_WEBHOOK_CONCURRENCY ?? '2,4,8,16').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0),
  });
}

async function pagesFigure() {
  const figures = await measurePages(Number(process.env.BENCH_PAGES_DEPLOYMENTS ?? 100_000), 30, Number(process.env.BENCH_PAGES_AGENTS ?? 1000));
  const common = { p50_ms: figures.p50_ms, deployments: figures.deployments, agents: figures.agents, pairs: figures.pairs, requests: figures.requests, fill_seconds: figures.fillSeconds };
  return {
    page_ms: { value: figures.page_ms, ...common, target: PAGE_TARGET_MS },
    dashboard_page_ms: { value: figures.dashboard_page_ms, ...common, target: DASHBOARD_PAGE_TARGET_MS },
  };
}

async function liveFigures() {
  const figures = await measureLiveUpdates({
    agents: Number(process.env.BENCH_LIVE_AGENTS ?? 1000),
    readers: Number(process.env.BENCH_LIVE_READERS ?? 100),
    browsers: Number(process.env.BENCH_LIVE_BROWSERS ?? 3),
    rounds: Number(process.env.BENCH_LIVE_ROUNDS ?? 2),
    concurrency: Number(process.env.BENCH_LIVE_CONCURRENCY ?? 50),
  });
  // A reader that missed an update makes the figure wrong: said loudly, not only inside the JSON.
  const live = figures.live_update_ms as { readers_failed: number; browser?: { readers_failed: number } };
  const failed = live.readers_failed + (live.browser?.readers_failed ?? 0);
  if (failed) process.stderr.write(`live_update_ms: ${failed} live page(s) missed updates or did not end; see its failures\n`);
  return figures;
}

/** Issue 16's figures: an artifact's download against curl (throughput, memory, a repeat's bytes), unpacking against tar. */
async function artifactFigures() {
  const download = await measureArtifactDownload();
  const unpack = await measureArtifactUnpack();
  return {
    artifact_download_vs_curl: { value: download.artifact_download_vs_curl, curl_mb_per_s: download.curl_mb_per_s, agent_mb_per_s: download.agent_mb_per_s, megabytes: download.megabytes, target: 0.9 },
    artifact_download_rss_mb: { value: download.artifact_download_rss_mb, runs: download.agent_rss_mb, target: 100 },
    artifact_repeat_bytes: { value: download.artifact_repeat_bytes, target: 0 },
    ...unpack,
  };
}

async function main() {
  if (process.env.BENCH_ONLY === 'live') {
    const live = { liveMeasuredAt: new Date().toISOString(), ...(await liveFigures()) };
    process.stdout.write(JSON.stringify(live, null, 2) + '\n');
    await mergeResults(live);
    return;
  }
  if (process.env.BENCH_ONLY === 'pages') {
    const pages = await pagesFigure();
    process.stdout.write(JSON.stringify(pages, null, 2) + '\n');
    await mergeResults(pages);
    return;
  }
  if (process.env.BENCH_ONLY === 'replicas') {
    const replicas = { replicasMeasuredAt: new Date().toISOString(), ...(await replicaFigures()) };
    process.stdout.write(JSON.stringify(replicas, null, 2) + '\n');
    await mergeResults(replicas);
    return;
  }
  if (process.env.BENCH_ONLY === 'fleet') {
    const fleet = { fleetMeasuredAt: new Date().toISOString(), ...(await fleetFigures()) };
    process.stdout.write(JSON.stringify(fleet, null, 2) + '\n');
    await mergeResults(fleet);
    return;
  }
  if (process.env.BENCH_ONLY === 'artifacts') {
    const artifacts = { artifactsMeasuredAt: new Date().toISOString(), ...(await artifactFigures()) };
    process.stdout.write(JSON.stringify(artifacts, null, 2) + '\n');
    await mergeResults(artifacts);
    return;
  }
  if (process.env.BENCH_ONLY === 'agent') {
    const agent = {
      agentMeasuredAt: new Date().toISOString(),
      ...(await measureAgentExecutable({ starts: Number(process.env.BENCH_AGENT_STARTS ?? 10), idleSeconds: Number(process.env.BENCH_AGENT_IDLE_SECONDS ?? 30) })),
    };
    process.stdout.write(JSON.stringify(agent, null, 2) + '\n');
    await mergeResults(agent);
    return;
  }
  if (process.env.BENCH_ONLY === 'discovery') {
    process.stdout.write(JSON.stringify({ discovery_join_ms: discoveryFigure() }, null, 2) + '\n');
    return;
  }
  if (process.env.BENCH_ONLY === 'github') {
    process.stdout.write(JSON.stringify({ github_requests_per_deployment: await githubFigure() }, null, 2) + '\n');
    return;
  }
  if (process.env.BENCH_ONLY === 'rollout') {
    process.stdout.write(JSON.stringify(await rolloutFigures(), null, 2) + '\n');
    return;
  }
  const world = await startWorld({ agents: 1, appFiles: benchAppFiles(), hubEnv: { BITENVOY_CONFIG_REFRESH_SECONDS: '3600', LOG_LEVEL: 'warn' } });
  if (process.env.BENCH_ONLY === 'idle') {
    try {
      const idle = await measureIdleAgent(world);
      process.stdout.write(JSON.stringify({ agent_npm_idle_rss_mb: { max: Math.round(idle.rssMax * 10) / 10, median: Math.round(idle.rssMedian * 10) / 10, target: 60 }, seconds: IDLE_SECONDS }, null, 2) + '\n');
    } finally {
      await world.close();
    }
    return;
  }
  let measured;
  try {
    measured = await Promise.all([measureDeployments(world), measureIdleAgent(world)]);
  } finally {
    await world.close();
  }
  const [deployments, idle] = measured;
  // Measured alone: a thousand simulated agents must not disturb the latency figures above.
  const github = await githubFigure();
  const rollout = await rolloutFigures();
  const fleet = process.env.BENCH_FLEET === '1' ? { fleetMeasuredAt: new Date().toISOString(), ...(await fleetFigures()) } : {};
  const pages = await pagesFigure();
  const live = await liveFigures();
  const results = {
    machine: { cores: (await import('node:os')).cpus().length, node: process.version },
    measuredAt: new Date().toISOString(),
    dispatch_latency_ms: { p50: percentile(deployments.dispatch, 50), p99: percentile(deployments.dispatch, 99), runs: deployments.dispatch.length, target_p50: 10 },
    start_latency_ms: { p50: percentile(deployments.start, 50), p99: percentile(deployments.start, 99), runs: deployments.start.length },
    repeat_fetch_bytes_ratio: {
      value: Math.round((deployments.repeatBytes / deployments.firstBytes) * 10000) / 10000,
      first_bytes: deployments.firstBytes,
      repeat_bytes: deployments.repeatBytes,
      target: 0.1,
    },
    agent_npm_idle_rss_mb: { max: Math.round(idle.rssMax * 10) / 10, median: Math.round(idle.rssMedian * 10) / 10, target: 60 },
    agent_idle_requests_per_min: { value: Math.round(idle.requestsPerMin * 100) / 100, requests: idle.requests, minutes: Math.round(idle.minutes * 100) / 100, target: 2 },
    github_requests_per_deployment: github,
    ...rollout,
    discovery_join_ms: discoveryFigure(),
    ...fleet,
    ...pages,
    ...live,
  };
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  await mergeResults(results);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
