import { spawnSync } from 'node:child_process';
/**
 * The agent API's one contract: the JSON Schema the hub and the agent both check against, the constants that code
 * uses agreeing with its bounds, and the agent's validator costing nothing until the first job.
 */
import { describe, expect, it } from 'vitest';
import { agentProtocolSchema, protocolRef } from '../../lib/agent-protocol-schema.js';
import { expectedAt, protocolProblems } from '../../lib/check-protocol.js';
import { ERROR_CODES } from '../../lib/errors.js';
import { ARTIFACT_SOURCE_KINDS, MAX_BATCH_ITEMS, MAX_JOB_ARTIFACTS, MAX_LOG_CHUNK_CHARS, MAX_SUGGESTED_BRANCHES, MAX_SUGGESTED_GIT_BASE_URLS, MAX_SUGGESTED_REPOSITORIES } from '../../lib/protocol.js';

const { definitions } = agentProtocolSchema() as unknown as { definitions: Record<string, { properties: Record<string, Record<string, unknown>>; enum?: unknown[] }> };

describe('lib/agent-protocol.schema.json', () => {
  it('bounds what lib/protocol.ts says it bounds', () => {
    expect(definitions.EventsRequest.properties.events.maxItems).toBe(MAX_BATCH_ITEMS);
    expect(definitions.LogsRequest.properties.chunks.maxItems).toBe(MAX_BATCH_ITEMS);
    expect(definitions.LogChunk.properties.data.maxLength).toBe(MAX_LOG_CHUNK_CHARS);
    expect(definitions.JobSpec.properties.artifacts.maxItems).toBe(MAX_JOB_ARTIFACTS);
    expect(definitions.SuggestedAllow.properties.gitBaseUrls.maxItems).toBe(MAX_SUGGESTED_GIT_BASE_URLS);
    expect(definitions.SuggestedAllow.properties.branches.maxItems).toBe(MAX_SUGGESTED_BRANCHES);
    expect(definitions.SuggestedAllow.properties.repositories.maxItems).toBe(MAX_SUGGESTED_REPOSITORIES);
    expect(definitions.ArtifactSourceKind.enum).toEqual([...ARTIFACT_SOURCE_KINDS]);
  });

  it('lists the error codes of the one catalog', () => {
    expect(definitions.ErrorCode.enum).toEqual(Object.keys(ERROR_CODES));
    expect(protocolProblems('ErrorEnvelope', { error: { code: 'BE_SEQ_GAP', message: 'resend from 3' } })).toEqual([]);
    expect(protocolProblems('ErrorEnvelope', { error: { code: 'BE_MADE_UP', message: 'x' } })).toEqual([{ path: ['error', 'code'], keyword: 'enum' }]);
  });

  it('names every place a value breaks it, a missing field at its own path', () => {
    expect(protocolProblems('GitAuth', { username: 'x', password: 7 })).toEqual([
      { path: ['expiresAt'], keyword: 'required' },
      { path: ['password'], keyword: 'type' },
    ]);
    expect(protocolProblems('JobArtifact', { name: 'site', source: 'oci' })).toEqual([{ path: ['oci'], keyword: 'required' }]);
    expect(protocolProblems('JobArtifact', { name: 'site', source: 'url', url: 'https://a/b' })).toEqual([{ path: ['sha256'], keyword: 'required' }]);
  });

  it('says in words what a field expects, through references', () => {
    expect(expectedAt('JobSpec', ['sha'])).toBe('a full 40-character commit SHA in lowercase hex');
    expect(expectedAt('JobSpec', ['git', 'url'])).toMatch(/^an `https:\/\/`/);
    expect(expectedAt('JobSpec', ['artifacts', '3', 'oci', 'digest'])).toBe('`sha256:` and 64 hex digits');
    expect(expectedAt('EventsRequest', ['claimId'])).toBe('the idempotency key of the claim');
    expect(expectedAt('JobSpec', ['nothing'])).toBeUndefined();
  });

  it('is referenced by name, and a name it lacks does not compile', () => {
    expect(protocolRef('ClaimRequest').$ref).toMatch(/agent-protocol\.schema\.json#\/definitions\/ClaimRequest$/);
    expect(() => protocolProblems('NoSuchBody' as 'JobSpec', {})).toThrow(/no definition NoSuchBody/);
  });
});

it('loads ajv only when the agent checks its first job (loadProtocolChecks), not when the checks are imported', () => {
  // A fresh process on the built agent (`npm run build`, as `npm test` does first): vitest has loaded ajv long ago.
  const script = `
    const { createRequire } = await import('node:module');
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => /[\\\\/]ajv[\\\\/]/.test(f));
    const { checkJobSpec } = await import('./dist/agent/check-job-spec.js');
    const { loadProtocolChecks } = await import('./dist/lib/check-protocol.js');
    const before = loaded();
    let refused = '';
    try { checkJobSpec({ id: 'job_1' }); } catch (err) { refused = err.message; }
    await loadProtocolChecks();
    checkJobSpec({ id: 'job_1' });
    console.log(JSON.stringify([before, refused, loaded()]));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(JSON.parse(run.stdout)).toEqual([false, 'protocolProblems() before loadProtocolChecks(): await loadProtocolChecks() once first', true]);
});
