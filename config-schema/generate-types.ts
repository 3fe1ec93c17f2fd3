/**
 * Generates `config-schema/types.generated.ts` from the JSON Schemas, the single source of truth for every
 * user-written YAML file. Run `npm run build && npm run generate` after changing a schema; a test fails when the
 * committed file has drifted.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { packageRoot } from '../lib/package-root.js';
import { SCHEMAS } from './validate-yaml-file.js';

const BANNER = `/* eslint-disable */
/**
 * GENERATED from config-schema/*.schema.json by \`npm run build && npm run generate\`. Do not edit by hand:
 * change the schema and regenerate (a test fails when this file drifts from the schemas).
 */
`;

/** The text of `types.generated.ts` for the schemas as they are now. */
export async function generateTypes(): Promise<string> {
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const schema of Object.values(SCHEMAS)) {
    const copy = structuredClone(schema) as unknown as JSONSchema;
    const ts = await compile(copy, (copy as { title: string }).title, {
      bannerComment: '',
      additionalProperties: false,
      declareExternallyReferenced: true,
      format: true,
      style: { singleQuote: true, printWidth: 120 },
    });
    // Shared definitions (none today) would be emitted once per schema; keep the first.
    for (const block of ts.split(/\n(?=\/\*\*|export )/)) {
      const name = /export (?:interface|type) (\w+)/.exec(block)?.[1];
      if (name && seen.has(name)) continue;
      if (name) seen.add(name);
      parts.push(block.trimEnd());
    }
  }
  return BANNER + '\n' + parts.join('\n') + '\n';
}

/** Where the generated file lives in the source tree. */
export function generatedTypesPath(): string {
  return join(packageRoot(), 'config-schema', 'types.generated.ts');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await generateTypes();
  await writeFile(generatedTypesPath(), text);
  process.stdout.write(`wrote ${generatedTypesPath()}\n`);
}
