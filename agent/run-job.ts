/**
 * One job on this server, from an accepted claim to a final state: the allowlist, fetching the exact commit, the
 * instruction file found in it, its steps, the `current` switch and pruning old releases. The hub sends no command:
 * what runs is only what the commit's own instruction file says.
 */
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { BitEnvoyError, isErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { parseDuration } from '../lib/parse-duration.js';
import type { JobSpec, ReportedJobState } from '../lib/protocol.js';
import { parseInstructions } from '../config-schema/load-instructions.js';
import type { InstructionFile, Step } from '../config-schema/types.generated.js';
import { formatIssues } from '../config-schema/validate-config-dir.js';
import type { AgentConfig } from './agent-config.js';
import { refusalReason } from './allowlist.js';
import { checkoutRelease, forgetRelease } from './fetch-commit.js';
import { fetchJobCommit } from './fetch-from-branches.js';
import type { JobReporter } from './job-reporter.js';
import { readInstructionFile } from './read-instruction-file.js';
import { artifactsInUse, keepInstructions, keptInstructions, keptReleaseOf, pruneReleases, recordLiveRelease, releasePaths, switchCurrent, type ReleasePaths } from './releases.js';
import { resolveStepCwd, runStep, type StepResult } from './run-step.js';
import { runValidate } from './run-validate.js';
import { bindSecrets } from './secrets.js';
import { shellInvocation, type ShellName } from './platform/shells.js';
import type { StepLaunch } from './run-as/prepare-run-as.js';

const DEFAULT_STEP_TIMEOUT_MS = 30 * 60_000;

export interface JobContext {
  spec: JobSpec;
  agentDir: string;
  config: AgentConfig;
  secrets: Map<string, string>;
  reporter: JobReporter;
  log: Logger;
  /** Aborted when the hub cancels the job or the agent stops. */
  cancel: AbortSignal;
  killGraceMs?: number;
}

export async function runJob(ctx: JobContext): Promise<ReportedJobState> {
  const { spec, reporter } = ctx;
  const refusal = refusalReason(ctx.config.allow, spec);
  if (refusal) return refuse(ctx, refusal);
  const system = (line: string) => reporter.output('system', line);
  const paths = releasePaths(ctx.agentDir, spec.repository, spec.environment, spec.id);
  if (spec.rollback) {
    const restored = await restoreKeptRelease(ctx, paths);
    if (restored) return restored;
  }
  let mirror: string;
  try {
    await reporter.state('fetching');
    mirror = await fetchJobCommit(spec, ctx.agentDir, ctx.config.allow?.branches, system);
    await checkoutRelease(mirror, spec.sha, paths.release);
    system(`checked out ${spec.sha.slice(0, 7)} into ${paths.release}\n`);
  } catch (err) {
    // allow.branches refuses while fetching: only then is it known whether the commit is on an allowed branch.
    if (isErrorCode(err, 'BE_NOT_ALLOWED')) return refuse(ctx, err.message);
    return fail(ctx, err instanceof BitEnvoyError ? err.message : `fetching the commit failed: ${(err as Error).message}`);
  }

  const read = await readInstructionFile(paths.release, spec.instructions);
  if ('problem' in read) {
    const where = `${spec.repository}@${spec.sha.slice(0, 7)}`;
    return fail(ctx, read.missing ? `no ${spec.instructions} in ${where}: add an instruction file (see templates/bitenvoy.yml)` : `${read.problem} (${where})`);
  }
  const parsed = parseInstructions(read.text, spec.instructions);
  if (!parsed.value) {
    system(formatIssues(parsed.errors) + '\n');
    return fail(ctx, `${spec.instructions} in ${spec.sha.slice(0, 7)} is invalid: ${parsed.errors[0]?.message ?? 'see the log'}${parsed.errors.length > 1 ? ` (+${parsed.errors.length - 1} more)` : ''}`);
  }

  let artifacts: string[] = [];
  if (parsed.value.source === 'artifact' || parsed.value.artifacts?.length) {
    const delivered = await deliverReleaseArtifacts(ctx, parsed.value, paths);
    if (!Array.isArray(delivered)) return delivered;
    artifacts = delivered;
    // A release of artifacts alone does not hold the commit's instruction file: kept beside it, for a rollback.
    if (parsed.value.source === 'artifact') await keepInstructions(paths, read.text);
  }

  const fenced = await fenceForSteps(ctx, paths);
  if (fenced) return fail(ctx, fenced);
  await reporter.state('running');
  const steps = withShell(parsed.value.steps, parsed.value.shell);
  let switched = false;
  for (const [index, step] of steps.entries()) {
    if (ctx.cancel.aborted) return cancelled(ctx);
    if (step.afterSwitch && !switched) {
      await activate(ctx, paths);
      switched = true;
    }
    const outcome = await runOneStep(ctx, paths, step, index);
    if (outcome !== 'succeeded') return outcome === 'cancelled' ? cancelled(ctx) : fail(ctx, outcome);
  }
  if (!switched) await activate(ctx, paths);
  const gate = await passHealthGate(ctx, paths, parsed.value.validate, steps.length, parsed.value.shell);
  if (gate !== 'succeeded') return gate === 'cancelled' ? cancelled(ctx) : fail(ctx, gate);
  await recordLiveRelease(paths, spec.sha, artifacts);
  for (const removed of await pruneReleases(paths, ctx.config.keepReleases)) {
    await forgetRelease(mirror, removed);
    system(`removed old release ${removed}\n`);
  }
  if (artifacts.length) await pruneArtifacts(ctx);
  await reporter.state('succeeded');
  return 'succeeded';
}

/**
 * The declared artifacts into the release (with `source: artifact` the release holds nothing else: the checkout that
 * gave the instruction file goes first). Their digests when all arrived; else the job's end (refused by the
 * allowlist, failed for anything else — the previous release stays live either way).
 */
async function deliverReleaseArtifacts(ctx: JobContext, instructions: InstructionFile, paths: ReleasePaths): Promise<ReportedJobState | string[]> {
  const system = (line: string) => ctx.reporter.output('system', line);
  if (instructions.source === 'artifact') {
    await rm(paths.release, { recursive: true, force: true });
    system('source: artifact — the release holds only its artifacts, not the commit\'s files\n');
  }
  try {
    const { deliverArtifacts } = await import('./artifacts/deliver-artifacts.js');
    return await deliverArtifacts({ spec: ctx.spec, agentDir: ctx.agentDir, config: ctx.config, log: system, signal: ctx.cancel }, instructions, paths.release);
  } catch (err) {
    if (ctx.cancel.aborted) return cancelled(ctx);
    if (isErrorCode(err, 'BE_NOT_ALLOWED')) return refuse(ctx, err.message);
    return fail(ctx, err instanceof BitEnvoyError ? err.message : `delivering the artifacts failed: ${(err as Error).message}`);
  }
}

/**
 * The artifact cache keeps what the kept releases of every application here were made of; other entries go once
 * they have not been used for an hour. A failed prune costs disk, never the deployment.
 */
async function pruneArtifacts(ctx: JobContext): Promise<void> {
  try {
    const { artifactCacheDir } = await import('./artifacts/deliver-artifacts.js');
    const { pruneArtifactCache } = await import('./artifacts/artifact-cache.js');
    const { removed, freedBytes } = await pruneArtifactCache(artifactCacheDir(ctx.agentDir), await artifactsInUse(ctx.agentDir));
    if (removed.length) ctx.reporter.output('system', `removed ${removed.length} unused artifact(s) from the cache (${freedBytes} bytes)\n`);
  } catch (err) {
    ctx.log.warn({ err }, 'pruning the artifact cache failed');
  }
}

/**
 * A rollback's fast path: when this server still keeps a release of exactly the commit to restore, and that
 * release's own instruction file has `rollback` steps, `current` goes back to it and those steps run there — no
 * fetch, no full deploy. Undefined when it does not apply (the caller then deploys the commit in full).
 */
async function restoreKeptRelease(ctx: JobContext, paths: ReleasePaths): Promise<ReportedJobState | undefined> {
  const { spec, reporter } = ctx;
  const system = (line: string) => reporter.output('system', line);
  const kept = await keptReleaseOf(paths, spec.sha);
  if (!kept) {
    system(`rollback: no kept release of ${spec.sha.slice(0, 7)} on this server; deploying it in full\n`);
    return undefined;
  }
  const keptPaths = { ...paths, release: kept };
  // Read like any instruction file: the hub names the path, so it must not lead out of the release.
  const inRelease = await readInstructionFile(kept, spec.instructions);
  const read = 'problem' in inRelease && inRelease.missing ? await keptInstructions(keptPaths) : inRelease;
  const parsed = 'problem' in read ? undefined : parseInstructions(read.text, spec.instructions).value;
  const steps = parsed?.rollback && withShell(parsed.rollback, parsed.shell);
  if (!parsed || !steps) {
    system(`rollback: the kept release ${basename(kept)} has ${parsed ? 'no `rollback` steps in' : 'no valid'} ${spec.instructions}; deploying ${spec.sha.slice(0, 7)} in full\n`);
    return undefined;
  }
  const fenced = await fenceForSteps(ctx, keptPaths);
  if (fenced) return fail(ctx, fenced);
  await reporter.state('running');
  system(`rollback: restoring the kept release ${basename(kept)} of ${spec.sha.slice(0, 7)} and running its rollback steps\n`);
  await switchCurrent(keptPaths);
  reporter.output('system', `current → releases/${basename(kept)}\n`);
  for (const [index, step] of steps.entries()) {
    if (ctx.cancel.aborted) return cancelled(ctx);
    const outcome = await runOneStep(ctx, keptPaths, step, index);
    if (outcome !== 'succeeded') return outcome === 'cancelled' ? cancelled(ctx) : fail(ctx, outcome);
  }
  const gate = await passHealthGate(ctx, keptPaths, parsed.validate, steps.length, parsed.shell);
  if (gate !== 'succeeded') return gate === 'cancelled' ? cancelled(ctx) : fail(ctx, gate);
  await recordLiveRelease(keptPaths, spec.sha);
  await reporter.state('succeeded');
  return 'succeeded';
}

/** Runs the instruction file's `validate` health gate, if any; returns 'succeeded', 'cancelled' or why it failed. */
async function passHealthGate(ctx: JobContext, paths: ReleasePaths, validate: InstructionFile['validate'], index: number, shell?: ShellName): Promise<string> {
  if (!validate) return 'succeeded';
  const { reporter } = ctx;
  return runValidate(validate, {
    index,
    reporter,
    cancel: ctx.cancel,
    system: (line) => reporter.output('system', line),
    command: (run, timeoutMs) => {
      const bound = bindSecrets({ name: 'validate', run, shell }, ctx.secrets, ctx.config.secretsFile);
      return runCommand(ctx, paths, { ...bound, cwd: paths.release, timeoutMs, shell }, index);
    },
  });
}

/**
 * Runs a step's (or the health gate's) command in the release with the deployment's environment: its output goes
 * to the hub under `index`, and its process group is journaled while it runs (a restarted agent stops what is left).
 */
async function runCommand(ctx: JobContext, paths: ReleasePaths, command: { run: string; env: Record<string, string>; cwd: string; timeoutMs: number; shell?: ShellName }, index: number): Promise<StepResult> {
  const { reporter } = ctx;
  // As agent.yml's runAs user, under its limits (agent/run-as), when it sets them.
  const launch = ctx.config.runAs ? await (await import('./run-as/prepare-run-as.js')).stepLaunch(ctx.config.runAs, ctx.spec.repository, `bitenvoy-step-${ctx.spec.id.replace(/[^A-Za-z0-9_-]/g, '_')}-${index}`) : undefined;
  if (launch?.notice) reporter.output('system', launch.notice);
  const result = await runStep({
    command: command.run,
    shell: command.shell,
    cwd: command.cwd,
    timeoutMs: command.timeoutMs,
    killGraceMs: ctx.killGraceMs,
    signal: ctx.cancel,
    env: { ...stepEnvironment(ctx, paths), ...launch?.env, ...command.env },
    onOutput: (stream, text) => reporter.output(stream, text, index),
    onSpawn: (group) => void reporter.setStepProcessGroup(group),
    ...(launch ? { prefix: launch.prefix } : {}),
  });
  if (launch) await reportBounds(ctx, launch, result);
  reporter.endOutput(index);
  await reporter.setStepProcessGroup(undefined);
  return result;
}

/**
 * With runAs anywhere in agent.yml, the release is fenced before its steps run: handed to its repository's user,
 * inside an application folder no other application's user can enter. Returns why that failed, if it did.
 */
async function fenceForSteps(ctx: JobContext, paths: ReleasePaths): Promise<string | undefined> {
  const plan = ctx.config.runAs;
  if (!plan?.users.size) return undefined;
  const { fenceRelease } = await import('./run-as/private-modes.js');
  const { settingsForRepository } = await import('./run-as/settings-for-repository.js');
  const runAs = settingsForRepository(plan.config, ctx.spec.repository).runAs;
  const user = runAs ? plan.users.get(runAs) : undefined;
  try {
    await fenceRelease(paths, user);
  } catch (err) {
    return `cannot hand the release to ${user?.name ?? 'the agent'}: ${(err as Error).message} (does the agent have CAP_CHOWN and CAP_FOWNER?)`;
  }
  ctx.reporter.output('system', user ? `steps run as ${user.name} (uid ${user.uid}, group ${user.group})\n` : 'steps run as the agent itself (no runAs for this repository)\n');
  return undefined;
}

/** Says in the job's log when the step was killed for memory (or, where that cannot be known, may have been). */
async function reportBounds(ctx: JobContext, launch: StepLaunch, result: StepResult): Promise<void> {
  const { memoryKilled } = await launch.release();
  const memory = launch.bounds?.memory;
  if (!memory || result.timedOut || result.cancelled) return;
  if (memoryKilled) ctx.reporter.output('system', `the step hit its memory bound (${memory}): the kernel killed it (out of memory)\n`);
  else if (memoryKilled === undefined && result.signal === 'SIGKILL') ctx.reporter.output('system', `the step was killed by SIGKILL; its memory bound is ${memory}: it may have hit it\n`);
}

/** Runs one step; returns 'succeeded', 'cancelled' or the failure message. */
async function runOneStep(ctx: JobContext, paths: ReleasePaths, step: Step, index: number): Promise<string> {
  const { reporter } = ctx;
  const ref = { index, name: step.name };
  let bound: { run: string; env: Record<string, string> };
  let cwd: string;
  let timeoutMs: number;
  try {
    bound = bindSecrets(step, ctx.secrets, ctx.config.secretsFile);
    shellInvocation(step.shell, bound.run); // a shell this server lacks fails the step here, with the ones it has
    cwd = resolveStepCwd(paths.release, step.cwd, step.name);
    timeoutMs = step.timeout === undefined ? DEFAULT_STEP_TIMEOUT_MS : parseDuration(step.timeout, `step ${step.name} timeout`);
  } catch (err) {
    const message = (err as Error).message;
    await reporter.step(ref, 'failed', { message });
    return message;
  }
  await reporter.step(ref, 'started');
  const result = await runCommand(ctx, paths, { ...bound, cwd, timeoutMs, shell: step.shell }, index);
  const extra = { exitCode: result.exitCode, durationMs: result.durationMs };
  if (result.cancelled) {
    await reporter.step(ref, 'failed', { ...extra, message: 'cancelled' });
    return 'cancelled';
  }
  if (result.timedOut) {
    const message = `step ${step.name} timed out after ${Math.round(timeoutMs / 1000)} s and was killed`;
    await reporter.step(ref, 'timed_out', { ...extra, message });
    return message;
  }
  if (result.exitCode !== 0) {
    const message = `step ${step.name} ${result.exitCode === null ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`}`;
    await reporter.step(ref, 'failed', { ...extra, message });
    return message;
  }
  await reporter.step(ref, 'succeeded', extra);
  return 'succeeded';
}

/** What every step (and the `validate` command) sees: the agent's environment and the deployment's facts. */
function stepEnvironment(ctx: JobContext, paths: ReleasePaths): NodeJS.ProcessEnv {
  const { spec } = ctx;
  return {
    ...agentEnvironment(),
    BITENVOY_JOB_ID: spec.id,
    BITENVOY_DEPLOYMENT_ID: spec.deploymentId,
    BITENVOY_REPOSITORY: spec.repository,
    BITENVOY_ENVIRONMENT: spec.environment,
    BITENVOY_SHA: spec.sha,
    BITENVOY_REF: spec.ref,
    BITENVOY_RELEASE_DIR: paths.release,
    BITENVOY_CURRENT_DIR: paths.current,
  };
}

/**
 * The agent's own environment as steps see it: without BitEnvoy tokens or secret variables the agent may have been
 * started with (a step gets only the secrets it references, and never a credential).
 */
function agentEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^BITENVOY_(SECRET_|.*(TOKEN|CREDENTIAL))/.test(key)));
}

/** The file's `shell` given to each step that names none. */
function withShell(steps: Step[], shell: ShellName | undefined): Step[] {
  return steps.map((step) => ({ ...step, shell: step.shell ?? shell }));
}

async function activate(ctx: JobContext, paths: ReleasePaths): Promise<void> {
  await switchCurrent(paths);
  ctx.reporter.output('system', `current → releases/${ctx.spec.id}\n`);
}

async function refuse(ctx: JobContext, reason: string): Promise<ReportedJobState> {
  ctx.log.warn({ jobId: ctx.spec.id }, `refused: ${reason}`);
  await ctx.reporter.state('refused', reason);
  return 'refused';
}

async function fail(ctx: JobContext, message: string): Promise<ReportedJobState> {
  ctx.log.warn({ jobId: ctx.spec.id }, `job failed: ${message}`);
  await ctx.reporter.state('failed', message);
  return 'failed';
}

async function cancelled(ctx: JobContext): Promise<ReportedJobState> {
  const why = String(ctx.cancel.reason ?? 'cancelled');
  await ctx.reporter.state('cancelled', why);
  return 'cancelled';
}
