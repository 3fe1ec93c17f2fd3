/**
 * `requireProvenance` in agent.yml, as the schema takes it: what a server owner writes, the default issuer filled in,
 * and the messages for what is wrong (a prefix-like workflow, a wildcard repository, a missing workflow).
 */
import { expect, test } from 'vitest';
import { formatIssues } from '../../../config-schema/validate-config-dir.js';
import type { AgentConfigFile } from '../../../config-schema/types.generated.js';
import { validateYamlFile } from '../../../config-schema/validate-yaml-file.js';

test('a full requireProvenance validates, with the GitHub Actions issuer by default', () => {
  const text = 'requireProvenance:\n  repository: acme/shop\n  workflow: .github/workflows/build.yml\n  trustRoot: trusted_root.json\n';
  expect(validateYamlFile<AgentConfigFile>(text, 'agent', 'agent.yml').value?.requireProvenance).toEqual({
    repository: 'acme/shop',
    workflow: '.github/workflows/build.yml',
    trustRoot: 'trusted_root.json',
    issuer: 'https://token.actions.githubusercontent.com',
  });
});

test('what a server owner sees for a bad requireProvenance', () => {
  const text = 'requireProvenance:\n  repository: acme/*\n  workflow: build\n  trustRoot: ""\n  verify: false\n';
  const result = validateYamlFile(text, 'agent', 'agent.yml');
  expect(result.value).toBeUndefined();
  expect(formatIssues(result.errors)).toMatchInlineSnapshot(`
    "agent.yml:5:3: unknown key \`verify\` in \`requireProvenance\`
        hint: allowed keys: repository, workflow, trustRoot, issuer
    agent.yml:2:15: \`requireProvenance.repository\`: expected \`owner/name\`, got \`acme/*\`
        hint: The repository whose workflow must have built the artifact, \`owner/name\`, e.g. \`acme/shop\` (compared without regard to case, like GitHub names).
    agent.yml:3:13: \`requireProvenance.workflow\`: expected a workflow file path like \`.github/workflows/build.yml\`, got \`build\`
        hint: The workflow file that must have signed the attestation, its path in that repository, e.g. \`.github/workflows/build.yml\`. Compared exactly (not as a prefix); any ref (branch or tag) of it is accepted — the commit is checked separately.
    agent.yml:4:14: \`requireProvenance.trustRoot\` must not be empty
        hint: Path (relative to the agent directory) of the Sigstore \`trusted_root.json\` attestations are checked against: its certificate authorities, transparency logs, CT logs and timestamp authorities. The agent never downloads one (whoever answered that download could vouch for any bytes), and there is no default: while it is not set, every artifact is refused. To get GitHub's and Sigstore's, run \`gh attestation trusted-root > trusted_root.json\` on a machine with internet access and copy the file here; refresh it when their keys rotate. Every attestation must carry a transparency-log entry of a log in this file and a verified signing time, and an SCT when the file lists CT logs."
  `);
  const missing = validateYamlFile('requireProvenance:\n  repository: acme/shop\n', 'agent', 'agent.yml');
  expect(formatIssues(missing.errors)).toMatchInlineSnapshot(`
    "agent.yml:2:3: \`requireProvenance\` is missing the required key \`workflow\`
        hint: add \`workflow:\` (The workflow file that must have signed the attestation, its path in that repository, e.g. \`.github/workflows/build.yml\`. Compared exactly (not as a prefix); any ref (branch or tag) of it is accepted — the commit is checked separately.)"
  `);
});
