/**
 * Generates `config-schema/types.generated.ts` from every `config-schema/*.schema.json`, the single source of truth
 * for user-written YAML, and `lib/agent-protocol.generated.ts` from `lib/agent-protocol.schema.json`, the agent API's
 * wire contract. Run `npm run build && npm run generate` after changing a schema; tests fail when a committed file
 * has drifted.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { agentProtocolSchema } from '../lib/agent-protocol-schema.js';
import { packageRoot } from '../lib/package-root.js';

const BANNER = `/* eslint-disable */
/**
 * GENERATED from config-schema/*.schema.json by \`npm run build && npm run generate\`. Do not edit by hand:
 * change the schema and regenerate (a test fails when this file drifts from the schemas).
 */
`;

/** The folder holding the schemas: read from the package root so it works from the sources and from `dist/`. */
export function schemaDir(): string {
  return join(packageRoot(), 'config-schema');
}

/** Where the generated file lives in the source tree. */
export function generatedTypesPath(): string {
  return join(schemaDir(), 'types.generated.ts');
}

/**
 * The text of `types.generated.ts` for the schemas as they are now: one type per schema title and definition.
 *
 * @example
 * await writeFile(generatedTypesPath(), await generateTypes());
 */
export async function generateTypes(): Promise<string> {
  const files = (await readdir(schemaDir())).filter((f) => f.endsWith('.schema.json')).sort();
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const schema = JSON.parse(await readFile(join(schemaDir(), file), 'utf8')) as JSONSchema & { title?: string };
    if (!schema.title) throw new Error(`config-schema/${file} has no "title": the title names its generated type`);
    const ts = await compile(schema, schema.title, {
      bannerComment: '',
      additionalProperties: false,
      declareExternallyReferenced: true,
      format: true,
      style: { singleQuote: true, printWidth: 120 },
    });
    // A definition shared by two schemas would be declared twice; the first declaration wins.
    for (const block of declarations(ts)) {
      const name = /export (?:interface|type) (\w+)/.exec(block)?.[1];
      if (name && seen.has(name)) continue;
      if (name) seen.add(name);
      parts.push(block.trimEnd());
    }
  }
  return BANNER + '\n' + parts.join('\n') + '\n';
}

const PROTOCOL_BANNER = `/* eslint-disable */
/**
 * GENERATED from lib/agent-protocol.schema.json (error codes from lib/errors.ts) by \`npm run build && npm run generate\`.
 * Do not edit by hand: change the schema and regenerate (a test fails when this file drifts from the schema).
 */
`;

/** Where the agent API's generated types live in the source tree. */
export function generatedProtocolTypesPath(): string {
  return join(packageRoot(), 'lib', 'agent-protocol.generated.ts');
}

/**
 * The text of `lib/agent-protocol.generated.ts`: one type per definition of the agent API's schema, the error codes
 * a union of the catalog's.
 *
 * @example
 * await writeFile(generatedProtocolTypesPath(), await generateProtocolTypes());
 */
export async function generateProtocolTypes(): Promise<string> {
  const schema = agentProtocolSchema();
  const ts = await compile(schema as unknown as JSONSchema, schema.title, {
    bannerComment: '',
    additionalProperties: false,
    declareExternallyReferenced: true,
    unreachableDefinitions: true,
    // Bounds stay in the schema; as tuples they would make types no one can read.
    maxItems: -1,
    format: true,
    style: { singleQuote: true, printWidth: 120 },
  });
  // The root only gathers the definitions: it is no type of any body.
  const parts = declarations(ts).filter((block) => !/export interface AgentProtocol \{/.test(block));
  return PROTOCOL_BANNER + '\n' + parts.map((block) => block.trimEnd()).join('\n') + '\n';
}

/** Splits compiled output into declarations, each with the TSDoc comment above it. */
function declarations(ts: string): string[] {
  const out: string[] = [];
  let pending = '';
  for (const piece of ts.split(/\n(?=\/\*\*|export )/)) {
    pending += (pending ? '\n' : '') + piece;
    if (/^export /m.test(piece)) {
      out.push(pending);
      pending = '';
    }
  }
  return pending ? [...out, pending] : out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(generatedTypesPath(), await generateTypes());
  process.stdout.write(`wrote ${generatedTypesPath()}\n`);
  await writeFile(generatedProtocolTypesPath(), await generateProtocolTypes());
  process.stdout.write(`wrote ${generatedProtocolTypesPath()}\n`);
}
