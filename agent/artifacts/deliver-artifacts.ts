/**
 * Puts a job's artifacts into its release: for each artifact the commit's instruction file declares (the release
 * itself first, with `source: artifact`), the hub's resolution is matched against the declaration, the source against
 * `allow.artifactSources`, the bytes are downloaded into the content-addressed cache (0 bytes when already there) and
 * checked against their SHA-256, the build attestation against `requireProvenance` when the agent requires one, and
 * only then is anything unpacked (hostile-input safe) or placed. The first refusal stops the job with its reason;
 * nothing of a refused artifact reaches the release.
 *
 * @example
 * await deliverArtifacts({ spec, agentDir, config, log: system, signal }, instructions, paths.release);
 */
import { copyFile, chmod, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { landingPath } from '../../config-schema/check-artifacts.js';
import type { InstructionFile } from '../../config-schema/types.generated.js';
import { BitEnvoyError } from '../../lib/errors.js';
import type { JobSpec } from '../../lib/protocol.js';
import type { AgentConfig } from '../agent-config.js';
import { artifactSourceRefusal } from './artifact-sources.js';
import { downloadArtifact } from './download-artifact.js';
import { digestOf } from './receive-artifact-body.js';
import { loadTrustRoot } from './load-trust-root.js';
import { locateOciBlob } from './locate-oci-blob.js';
import { matchDeclared } from './match-declared.js';
import { unpackArchive } from './unpack-archive.js';
import { verifyProvenance } from './verify-provenance.js';

/** A registry or GitHub that sends nothing for this long fails the attempt (the download retries and resumes). */
const STALL_MS = 30_000;

export interface DeliveryContext {
  spec: JobSpec;
  agentDir: string;
  config: AgentConfig;
  /** Lines for the job's log. */
  log: (line: string) => void;
  signal: AbortSignal;
}

/** The agent's artifact cache: `<agentDir>/artifacts`. */
export function artifactCacheDir(agentDir: string): string {
  return join(agentDir, 'artifacts');
}

/** Delivers every declared artifact into `releaseDir`; returns their SHA-256s (what the release is made of). */
export async function deliverArtifacts(ctx: DeliveryContext, instructions: Pick<InstructionFile, 'artifacts'>, releaseDir: string): Promise<string[]> {
  const digests: string[] = [];
  const declared = [...(instructions.artifacts ?? [])].sort((a, b) => Number(landingPath(b) === '.') - Number(landingPath(a) === '.'));
  const { spec, config } = ctx;
  for (const artifact of declared) {
    const resolved = spec.artifacts?.find((a) => a.name === artifact.name);
    const matched = matchDeclared(artifact, resolved, spec);
    if ('problem' in matched) throw new BitEnvoyError('BE_ARTIFACT', matched.problem);
    const refusal = artifactSourceRefusal(config.allow, spec.repository, matched.source);
    if (refusal) throw new BitEnvoyError('BE_NOT_ALLOWED', refusal);

    const token = resolved!.token;
    const where =
      matched.source.kind === 'oci'
        ? await locateOciBlob({ ...matched.source, digest: resolved!.oci!.digest, ...(resolved!.oci!.layer ? { layer: resolved!.oci!.layer } : {}), timeoutMs: STALL_MS, insecureRegistries: insecureRegistries(config) })
        : { url: resolved!.url!, sha256: matched.sha256 ?? resolved!.sha256!, ...(resolved!.size === undefined ? {} : { size: resolved!.size }), headers: downloadHeaders(matched.source.kind, token) };
    ctx.log(`artifact ${artifact.name}: ${resolved!.described ?? matched.source.kind}, sha256 ${where.sha256.slice(0, 12)}…\n`);
    const lines = (line: string) => ctx.log(line.endsWith('\n') ? line : `${line}\n`);
    const download = () => downloadArtifact({ url: where.url, sha256: where.sha256, ...(where.size === undefined ? {} : { size: where.size }), headers: where.headers, cacheDir: artifactCacheDir(ctx.agentDir), signal: ctx.signal, log: lines, timeoutMs: STALL_MS });
    let file = await download();
    // The cache is checked as it is used: an entry whose bytes the disk lost or changed (a power cut before they were
    // written out) is dropped and downloaded again, never unpacked.
    if ((await digestOf(file.path)) !== where.sha256) {
      ctx.log(`artifact ${artifact.name}: the cached copy no longer has sha256 ${where.sha256.slice(0, 12)}…; downloading it again\n`);
      await rm(file.path, { force: true });
      file = await download();
      if ((await digestOf(file.path)) !== where.sha256) throw new BitEnvoyError('BE_ARTIFACT', `artifact ${artifact.name}: its bytes change on this server's disk after they were checked (${file.path}); check the disk`);
    }
    ctx.log(file.fromCache ? `artifact ${artifact.name}: already here (0 bytes transferred), digest checked\n` : `artifact ${artifact.name}: downloaded ${file.bytesTransferred} bytes, digest checked\n`);

    if (config.requireProvenance) {
      const trustRoot = await loadTrustRoot(config.requireProvenance.trustRoot, ctx.agentDir);
      const bundles = (resolved!.attestations ?? []).map((a) => (typeof a === 'object' && a !== null && 'bundle' in a ? (a as { bundle: unknown }).bundle : a));
      const proof = await verifyProvenance({
        sha256: where.sha256,
        bundles,
        require: { repository: config.requireProvenance.repository, workflow: config.requireProvenance.workflow, commit: spec.sha, ...(config.requireProvenance.issuer ? { issuer: config.requireProvenance.issuer } : {}) },
        trustRoot,
      });
      ctx.log(`artifact ${artifact.name}: built by ${proof.signer} at ${proof.commit.slice(0, 7)} (attestation verified)\n`);
    }

    digests.push(where.sha256);
    const dest = join(releaseDir, landingPath(artifact));
    if (artifact.unpack === false) {
      await mkdir(dirname(dest), { recursive: true });
      // COPYFILE_EXCL: a file of the commit at that path is never overwritten.
      await copyFile(file.path, dest, 1).catch((err: NodeJS.ErrnoException) => {
        throw new BitEnvoyError('BE_ARTIFACT', err.code === 'EEXIST' ? `artifact ${artifact.name} would replace \`${landingPath(artifact)}\`, which the release already has: give it a path of its own` : `placing artifact ${artifact.name}: ${err.message}`);
      });
      // A file delivered as it is is most often a program: it may run.
      await chmod(dest, 0o755);
      ctx.log(`artifact ${artifact.name}: placed at ${landingPath(artifact)}\n`);
    } else {
      const unpacked = await unpackArchive(file.path, dest, { signal: ctx.signal });
      ctx.log(`artifact ${artifact.name}: unpacked ${unpacked.entries} entries (${unpacked.bytes} bytes) into ${landingPath(artifact)}\n`);
    }
  }
  return digests;
}

/** Registries this agent reaches over plain http (`allow.insecureRegistries`): https for every other. */
function insecureRegistries(config: AgentConfig): string[] {
  return config.allow?.insecureRegistries ?? [];
}

/**
 * The token, and for a release asset the media type that makes GitHub answer with the bytes (a redirect to them)
 * rather than the asset's description.
 */
function downloadHeaders(kind: string, token: string | undefined): Record<string, string> {
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(kind === 'github-release' ? { accept: 'application/octet-stream' } : {}) };
}
