import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { generateTypes, generatedTypesPath } from '../../config-schema/generate-types.js';

it('config-schema/types.generated.ts matches the JSON Schemas', async () => {
  const committed = await readFile(generatedTypesPath(), 'utf8');
  const fresh = await generateTypes();
  if (committed !== fresh) {
    throw new Error('config-schema/types.generated.ts has drifted from the schemas: run `npm run build && npm run generate` and commit the result');
  }
  expect(committed).toContain('export interface InstructionFile');
});
