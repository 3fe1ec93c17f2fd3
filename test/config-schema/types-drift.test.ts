import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { generateProtocolTypes, generatedProtocolTypesPath, generateTypes, generatedTypesPath } from '../../config-schema/generate-types.js';
import { ERROR_CODES } from '../../lib/errors.js';

it('config-schema/types.generated.ts matches the JSON Schemas', async () => {
  const committed = await readFile(generatedTypesPath(), 'utf8');
  const fresh = await generateTypes();
  if (committed !== fresh) {
    throw new Error('config-schema/types.generated.ts has drifted from the schemas: run `npm run build && npm run generate` and commit the result');
  }
  expect(committed).toContain('export interface InstructionFile');
});

it('lib/agent-protocol.generated.ts matches lib/agent-protocol.schema.json and the error catalog', async () => {
  const committed = await readFile(generatedProtocolTypesPath(), 'utf8');
  const fresh = await generateProtocolTypes();
  if (committed !== fresh) {
    throw new Error('lib/agent-protocol.generated.ts has drifted from the schema: run `npm run build && npm run generate` and commit the result');
  }
  expect(committed).toContain('export interface JobSpec');
  // The error codes come from the one catalog: a code added to lib/errors.ts changes the generated union.
  expect(committed).toMatch(new RegExp(`export type ErrorCode =[^;]*'${Object.keys(ERROR_CODES).at(-1)}'`));
});
