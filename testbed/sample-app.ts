/**
 * The sample application the demo deploys, and the config repo that points at it. Plain shell steps, so the demo
 * runs on any machine with git and a POSIX shell.
 */
import { readTree, type FileChanges } from './git-repos.js';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.js';

export const SAMPLE_REPOSITORY = 'demo/shop';
export const SAMPLE_ENVIRONMENT = 'staging';

/** The sample application's files at version `version`. */
export function sampleAppFiles(version = '1'): FileChanges {
  return {
    'bitenvoy.yml': `# How BitEnvoy deploys the demo shop. See templates/bitenvoy.yml for every option.
version: 1
steps:
  - name: build
    run: |
      echo "building shop version $(cat VERSION) at $BITENVOY_SHA"
      mkdir -p public && sed "s/@VERSION@/$(cat VERSION)/" index.html > public/index.html
    timeout: 2m
  - name: check
    run: test -s public/index.html && echo "build output looks right"
  - name: restart
    run: echo "now serving $(readlink -f "$BITENVOY_CURRENT_DIR")"
    afterSwitch: true
`,
    VERSION: `${version}\n`,
    'index.html': '<!doctype html><title>shop</title><h1>Shop version @VERSION@</h1>\n',
  };
}

/**
 * The config repo: the starter from `templates/config-repo` with the example application replaced by the sample
 * one, fetched from `appGitUrl`.
 */
export async function sampleConfigFiles(
  appGitUrl: string,
  options: { strategy?: string; github?: { requiredChecks?: string[] | 'all'; checksTimeout?: string } } = {},
): Promise<FileChanges> {
  const files = await readTree(join(packageRoot(), 'templates', 'config-repo'));
  for (const path of Object.keys(files)) if (path.startsWith('repositories/')) delete files[path];
  const auto = options.github
    ? `    auto: true
    requiredChecks: ${JSON.stringify(options.github.requiredChecks ?? ['test'])}
    checksTimeout: ${options.github.checksTimeout ?? '10m'}
`
    : '';
  // In GitHub mode agents fetch from the clone URL GitHub gives, with a token: no `git:` line.
  files[`repositories/${SAMPLE_REPOSITORY}.yml`] = `# The demo shop: deployed to the web group ${options.github ? 'when its checks pass' : 'when asked'}.
${options.github ? '' : `git: ${appGitUrl}\n`}environments:
  ${SAMPLE_ENVIRONMENT}:
    branch: main
    group: web
    strategy: ${options.strategy ?? 'all-at-once'}
    url: https://staging.shop.example
${auto}`;
  return files;
}
