/* eslint-disable */
/**
 * GENERATED from config-schema/*.schema.json by `npm run build && npm run generate`. Do not edit by hand:
 * change the schema and regenerate (a test fails when this file drifts from the schemas).
 */

/**
 * Run every step (and the `validate` command) as this user instead of the agent's own: `USER` or `USER:GROUP`, e.g. `deploy` or `deploy:www-data` (without a group, the user's own; supplementary groups are always the user's). The agent keeps its own files from that user: its directory is 0711 (traversable, not listable); `agent.json`, `agent.yml`, the secrets file and journal files 0600; the journal, git mirrors and artifact cache 0700; an application's `apps/<owner>/<name>/<environment>` is the agent's with the user's group, 0750, and its release directories belong to the user. Secrets reach a step only through its environment; HOME, USER and LOGNAME are the user's. Needs an agent running as root, or with CAP_SETUID and CAP_SETGID (the systemd unit grants them when runAs is set), and `setpriv` (util-linux), through which every step starts with no capabilities at all: otherwise the agent refuses to start, as it does for a user that does not exist. Not `root`. Absent: steps run as the agent itself.
 */
export type RunAs = string;
/**
 * `agent.yml` in the agent's directory: local rules the hub cannot change. Written by the server's owner.
 */
export interface AgentConfigFile {
  /**
   * What this agent will ever run. Anything else is refused before a byte of it is fetched (with `branches`, only those branches are ever fetched), and the refusal is reported to the hub with the rule that refused it. `bitenvoy agent enroll` writes it, pinning `gitBaseUrls`, `branches` and `instructions`. `repositories`, `environments`, `gitBaseUrls` or `branches` left out do not restrict (the agent warns at start about the last two); `instructions` left out is `[bitenvoy.yml]`; `artifactSources` left out accepts no artifact.
   */
  allow?: {
    /**
     * Repositories accepted, as `owner/name` or `owner/*`, e.g. `[acme/shop, tools/*]`.
     *
     * @maxItems 500
     */
    repositories?: string[];
    /**
     * Environment names accepted, e.g. `[staging]`.
     *
     * @maxItems 100
     */
    environments?: string[];
    /**
     * Where code may come from: a job's git URL must be exactly `<base><owner>/<name>.git` or `<base><owner>/<name>` for the job's own repository, with one of these bases, e.g. `[https://github.com/]` or `[https://git.internal.example/scm/]` (a trailing `/` is implied; scheme and host compare without regard to case). URLs with a password, a query, a fragment, `%` escapes or `..` are refused. Absent: the agent fetches from whatever URL the hub sends, so a compromised hub could point an allowed repository's name at a repository of its own; set it. Empty: every job is refused.
     *
     * @maxItems 50
     */
    gitBaseUrls?: string[];
    /**
     * Branches a commit must be on: the agent then never fetches a commit by its SHA; it fetches these branches' heads and runs a job only when its commit is one of them or an ancestor of one, e.g. `[main, release/*]`. A name ending in `*` matches any branch that starts with what comes before it and has no further `/` (`release/*` matches `release/2.1`, not `release/2.1/fix`). Nothing under `refs/` (a pull request's `refs/pull/1/head`) is ever a branch. Absent: any commit of an accepted repository, fetched by its SHA.
     *
     * @maxItems 100
     */
    branches?: string[];
    /**
     * Instruction file paths (inside the commit) this agent runs, e.g. `[bitenvoy.yml, deploy/bitenvoy.yml]`. The hub names each job's instruction file; a job naming any other path is refused before anything is fetched, so a hub cannot make another YAML file of the commit (a documentation example, a test fixture) run as deploy steps. No globs: exact paths, relative to the repository root, without `..`. Default `[bitenvoy.yml]`.
     *
     * @maxItems 50
     */
    instructions?: string[];
    /**
     * Where artifacts (built files a job deploys, declared in its `bitenvoy.yml`) may come from; a job whose artifact source matches none of these is refused before anything is downloaded. Absent or empty: no artifact is accepted at all (fail closed). Patterns: `github-actions` — Actions artifacts of the job's own repository on github.com (`https://api.github.com/repos/<owner>/<name>/actions/artifacts/<id>/zip`); `github-releases` — release assets of the job's own repository on github.com (`https://api.github.com/repos/<owner>/<name>/releases/assets/<id>` or `https://github.com/<owner>/<name>/releases/download/<tag>/<file>`); `github-actions@https://ghe.example.com` and `github-releases@https://ghe.example.com` — the same on a GitHub Enterprise Server (API under `/api/v3/`); `<registry-host>[:port]/<path>` — OCI artifacts, e.g. `ghcr.io/acme/*` or `registry.example.com:5000/team/app`, where `*` stands for exactly one path segment (as in `owner/*` of `repositories`); `https://host[:port]/path/` — URLs under that prefix: scheme and host compare exactly (the host without regard to case), the path prefix ends at a `/` (`https://cdn.acme.com/builds` is `https://cdn.acme.com/builds/`). `http://` is accepted only where a pattern says `http://`. A candidate URL with a user name or password, a query, a fragment, `%` escapes, `.` or `..` segments is never accepted. The digest the hub sends is still checked on every download.
     *
     * @maxItems 100
     */
    artifactSources?: string[];
    /**
     * OCI registries (`host[:port]`) this agent speaks plain http to, e.g. a registry on this server's own loopback (`127.0.0.1:5000`). Never list a registry reached across a network: the digest still decides the bytes, but its token would travel in clear. Absent: https only.
     *
     * @maxItems 20
     */
    insecureRegistries?:
      | []
      | [string]
      | [string, string]
      | [string, string, string]
      | [string, string, string, string]
      | [string, string, string, string, string]
      | [string, string, string, string, string, string]
      | [string, string, string, string, string, string, string]
      | [string, string, string, string, string, string, string, string]
      | [string, string, string, string, string, string, string, string, string]
      | [string, string, string, string, string, string, string, string, string, string]
      | [string, string, string, string, string, string, string, string, string, string, string]
      | [string, string, string, string, string, string, string, string, string, string, string, string]
      | [string, string, string, string, string, string, string, string, string, string, string, string, string]
      | [string, string, string, string, string, string, string, string, string, string, string, string, string, string]
      | [
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string
        ]
      | [
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string
        ]
      | [
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string
        ]
      | [
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string
        ]
      | [
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string
        ]
      | [
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string,
          string
        ];
  };
  /**
   * How many release directories to keep per application and environment (the `current` one is never deleted). Default 5.
   */
  keepReleases?: number;
  /**
   * Path of the secrets file (`NAME: value` per line, YAML), relative to the agent directory. Default `secrets.yml`. Keep it mode 0600.
   */
  secretsFile?: string;
  /**
   * Use a built artifact only when it carries a valid build attestation (a GitHub artifact attestation: a Sigstore bundle signed for a GitHub Actions run and logged in a transparency log) that binds its SHA-256 to this repository, this workflow and the deployed commit, e.g. `{ repository: acme/shop, workflow: .github/workflows/build.yml, trustRoot: trusted_root.json }`. Checked on this server against `trustRoot`, so neither a compromised hub nor a compromised artifact store can put other bytes here. Fails closed: no attestation, or none that passes every check, and the artifact is refused with the reason. Absent: artifacts are checked by digest only.
   */
  requireProvenance?: {
    /**
     * The repository whose workflow must have built the artifact, `owner/name`, e.g. `acme/shop` (compared without regard to case, like GitHub names).
     */
    repository: string;
    /**
     * The workflow file that must have signed the attestation, its path in that repository, e.g. `.github/workflows/build.yml`. Compared exactly (not as a prefix); any ref (branch or tag) of it is accepted — the commit is checked separately.
     */
    workflow: string;
    /**
     * Path (relative to the agent directory) of the Sigstore `trusted_root.json` attestations are checked against: its certificate authorities, transparency logs, CT logs and timestamp authorities. The agent never downloads one (whoever answered that download could vouch for any bytes), and there is no default: while it is not set, every artifact is refused. To get GitHub's and Sigstore's, run `gh attestation trusted-root > trusted_root.json` on a machine with internet access and copy the file here; refresh it when their keys rotate. Every attestation must carry a transparency-log entry of a log in this file and a verified signing time, and an SCT when the file lists CT logs.
     */
    trustRoot?: string;
    /**
     * The OIDC issuer the signing certificate must name. Default `https://token.actions.githubusercontent.com` (GitHub.com Actions); set it for GitHub Enterprise Server.
     */
    issuer?: string;
  };
  /**
   * Prove to the hub which cloud instance this server is, so groups can select it by verified cloud metadata (`cloud.*`). The agent reads the provider's signed identity evidence from the instance metadata service at start and every `every`, and sends it unchanged; the hub verifies it. Absent: the agent never claims a cloud identity.
   */
  cloud?: {
    /**
     * `aws` (EC2 instance identity document, IMDSv2), `gcp` (Compute Engine identity token; the VM needs a service account) or `azure` (IMDS attested data).
     */
    provider: 'aws' | 'gcp' | 'azure';
    /**
     * The instance metadata service's base URL, for tests and unusual networks. Default: the provider's own (`http://169.254.169.254`; GCP `http://metadata.google.internal`).
     */
    metadataUrl?: string;
    /**
     * How often to prove it again, e.g. `1h`. Default `1h`.
     */
    every?: string;
  };
  runAs?: RunAs;
  limits?: StepLimits;
  /**
   * `runAs` and `limits` for some repositories, overriding the agent-wide ones. Keys are `owner/name` or `owner/*`; the most specific key matching a job's repository wins (`acme/shop` over `acme/*` over the agent-wide setting), and its `limits` replace the agent-wide ones key by key. E.g. `{ acme/shop: { runAs: shop }, tools/*: { runAs: tools, limits: { memory: 1G } } }`. Give each application its own user and group, so one application's steps cannot read another's releases.
   */
  perRepository?: {
    [k: string]: {
      runAs?: RunAs;
      limits?: StepLimits;
    };
  };
}
/**
 * Resource bounds for each step (and the `validate` command), best-effort. With systemd as PID 1, each step runs in a transient scope (`systemd-run --scope -p MemoryMax=… -p CPUQuota=…`); else, when the agent's own cgroup v2 is delegated to it (writable, with the `memory` and `cpu` controllers), in a child cgroup of its own; else they are not enforced, and the agent says so at start and in each job's log. A step's wall time is its `timeout` in `bitenvoy.yml`. E.g. `{ memory: 512M, cpu: 50% }`.
 */
export interface StepLimits {
  /**
   * Most memory a step's processes may use together: a byte count or one with `K`, `M`, `G` or `T` (powers of 1024), e.g. `512M`. A step that needs more is killed by the kernel, and the job's log says it hit its memory bound.
   */
  memory?: string;
  /**
   * Most CPU time a step's processes may use together: a percentage of one core (`50%`, `250%`) or a number of cores (`1.5`, `2 cores`).
   */
  cpu?: string;
}
/**
 * A cloud fact's value as the provider gives it, e.g. a tag value `shop prod`: up to 512 characters, no control characters.
 *
 * This interface was referenced by `undefined`'s JSON-Schema definition
 * via the `patternProperty` "^cloud\.".
 */
export type CloudValue = string;
/**
 * A label value: up to 63 letters, digits, `.`, `_` and `-`.
 */
export type LabelValue = string;
/**
 * A label key: letters, digits, `.`, `_`, `-` and `/`, starting with a letter or digit, e.g. `role` or `example.com/tier`; or a verified cloud fact: `cloud.provider`, `cloud.account`, `cloud.region`, `cloud.zone`, `cloud.instance_id`, `cloud.instance_type`, `cloud.private_ip`, or `cloud.tag.<Key>` with the tag's raw key (e.g. `cloud.tag.aws:autoscaling:groupName`).
 */
export type LabelKey = string;
/**
 * `groups.yml` in the config repo: named sets of agents, chosen by label selectors over each agent's labels.
 */
export interface GroupsFile {
  /**
   * Group name → group. Names are lowercase letters, digits and dashes, e.g. `web-eu`.
   */
  groups: {
    [k: string]: Group;
  };
}
/**
 * A set of agents. An agent belongs when its labels match every part of `selector`.
 */
export interface Group {
  /**
   * What these servers are, for people reading the config.
   */
  description?: string;
  selector: LabelSelector;
}
/**
 * A Kubernetes-style label selector. `matchLabels` and every `matchExpressions` entry are ANDed; an empty selector matches every agent. Example: `{ matchLabels: { role: web }, matchExpressions: [{ key: region, operator: In, values: [eu-west-1] }] }`.
 */
export interface LabelSelector {
  /**
   * Label key → exact value the agent must have, e.g. `{ role: web }`.
   */
  matchLabels?: {
    [k: string]: CloudValue;
  };
  /**
   * Requirements that must all hold, e.g. `[{ key: env, operator: NotIn, values: [prod] }]`.
   *
   * @maxItems 50
   */
  matchExpressions?: LabelSelectorRequirement[];
}
/**
 * One requirement. `In`/`NotIn` need a non-empty `values`; `Exists`/`DoesNotExist` take no `values`. `NotIn` and `DoesNotExist` also match agents that lack the key.
 */
export interface LabelSelectorRequirement {
  key: LabelKey;
  /**
   * How `key` is compared: `In`, `NotIn`, `Exists` or `DoesNotExist`.
   */
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /**
   * The values for `In` and `NotIn`. For a `cloud.*` key, the provider's raw values (spaces and all).
   *
   * @maxItems 100
   */
  values?: string[];
}
/**
 * `bitenvoy.yml` at the root of an application repository: the ordered steps an agent runs to deploy one commit. Steps run in the new release directory; `current` is switched to it (atomically) before the first step marked `afterSwitch`, or after the last step when none is.
 */
export interface InstructionFile {
  /**
   * The instruction file format version. Always `1`.
   */
  version: 1;
  /**
   * The steps, run one after another; the first that fails stops the deployment on this server.
   *
   * @minItems 1
   * @maxItems 100
   */
  steps: [Step, ...Step[]];
  /**
   * The shell every step (and `validate.run`) of this file runs in, unless a step names its own: `sh` (`/bin/sh -c`, the default on Linux and macOS), `bash` (found on PATH), `pwsh` (PowerShell 7, found on PATH; the default on Windows when installed), `powershell` (Windows PowerShell 5.1, Windows only; the default on Windows without `pwsh`) or `cmd` (`cmd.exe` with delayed expansion, Windows only). A shell the server's OS does not have fails the step with the shells it has. Example: `shell: bash`.
   */
  shell?: 'sh' | 'bash' | 'pwsh' | 'powershell' | 'cmd';
  /**
   * What the release directory holds: `git` (the default) — the commit's files, with the artifacts placed into it; `artifact` — only the artifacts, no checkout (a static site or a compiled binary ships without the repository). Either way the agent reads this file from the commit itself, never from an artifact or the hub.
   */
  source?: 'git' | 'artifact';
  /**
   * Built files to deliver with the release, each fetched by the agent directly from its source and checked against its SHA-256 digest before it is unpacked or used. Example: `[{ name: site, githubActions: { workflow: build.yml, artifact: site }, path: public }]`. `{sha}` and `{shortSha}` in a tag, reference or URL stand for the deployed commit.
   *
   * @maxItems 20
   */
  artifacts?:
    | []
    | [Artifact]
    | [Artifact, Artifact]
    | [Artifact, Artifact, Artifact]
    | [Artifact, Artifact, Artifact, Artifact]
    | [Artifact, Artifact, Artifact, Artifact, Artifact]
    | [Artifact, Artifact, Artifact, Artifact, Artifact, Artifact]
    | [Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact]
    | [Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact]
    | [Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact]
    | [Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact]
    | [Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact, Artifact]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ]
    | [
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact,
        Artifact
      ];
  /**
   * Steps for coming back to this commit quickly: when a later rollout of the environment is rolled back (automatically with `onFailure: rollback`, or with `/rollback`) and the agent still keeps this commit's release, it switches `current` back to that release and runs these steps in it (typically a restart) instead of fetching and running `steps` again; `validate` then runs as usual. Absent: a rollback to this commit is a full deploy. Example: `[{ name: restart, run: systemctl restart shop }]`.
   *
   * @minItems 1
   * @maxItems 100
   */
  rollback?: [Step, ...Step[]];
  /**
   * A health gate: after the last step (and the switch of `current`), this server counts as deployed only when the check passes, tried every `interval` until `timeout`. Either a command (`run`, exit 0 passes) or an HTTP check (`http`). Example: `{ http: { url: 'http://localhost:8080/health', status: 200 }, timeout: 2m }`.
   */
  validate?: {
    /**
     * A command run like a step (in the file's `shell`), in the new release directory; exit code 0 passes. `${{ secrets.NAME }}` works as in steps.
     */
    run?: string;
    /**
     * An HTTP GET that must answer with `status`.
     */
    http?: {
      /**
       * What to ask, e.g. `http://localhost:8080/health`.
       */
      url: string;
      /**
       * The status that passes. Default `200`.
       */
      status?: number;
    };
    /**
     * How long to keep trying before the server counts as failed: seconds, or a duration like `90s`, `5m`. Default `1m`.
     */
    timeout?: number | string;
    /**
     * How long to wait between tries. Default `2s`.
     */
    interval?: number | string;
  };
}
/**
 * One shell command. Example: `{ name: migrate, run: ./bin/migrate, timeout: 5m, env: { DATABASE_URL: '${{ secrets.DB_URL }}' } }`.
 */
export interface Step {
  /**
   * A short name shown in logs and on the status page, e.g. `install`.
   */
  name: string;
  /**
   * The command, run by the step's `shell` (default `/bin/sh -c` on Linux and macOS) in its own process group (on Windows: stopped as a process tree with `taskkill /T`). `${{ secrets.NAME }}` is replaced by a reference to an environment variable holding the agent's local secret, so the value never appears on a command line.
   */
  run: string;
  /**
   * How long the step may run before its process group is killed: seconds, or a duration like `90s`, `10m`, `1h`. Default `30m`.
   */
  timeout?: number | string;
  /**
   * Extra environment variables for the step. Values may contain `${{ secrets.NAME }}`.
   */
  env?: {
    [k: string]: string;
  };
  /**
   * Working directory relative to the release directory. Default: the release directory itself.
   */
  cwd?: string;
  /**
   * The shell this step runs in, overriding the file's `shell`: `sh`, `bash`, `pwsh`, `powershell` (Windows only) or `cmd` (Windows only). `${{ secrets.NAME }}` is written for that shell (`"${BITENVOY_SECRET_NAME}"` in sh and bash, `${env:BITENVOY_SECRET_NAME}` in PowerShell, `"!BITENVOY_SECRET_NAME!"` in cmd). Example: `{ name: check, shell: bash, run: '[[ -f .env ]]' }`.
   */
  shell?: 'sh' | 'bash' | 'pwsh' | 'powershell' | 'cmd';
  /**
   * Run this step after `current` points at the new release (e.g. restarting the service). Such steps must come after all the others.
   */
  afterSwitch?: boolean;
}
/**
 * One artifact: a name, exactly one source (`githubActions`, `githubRelease`, `oci` or `url`), and where it lands in the release.
 */
export interface Artifact {
  /**
   * A short name shown on the plan and in logs, unique in this file, e.g. `site`.
   */
  name: string;
  /**
   * An artifact uploaded by a GitHub Actions workflow run of exactly the deployed commit (its newest successful run on the deployed branch). Example: `{ workflow: build.yml, artifact: site }`.
   */
  githubActions?: {
    /**
     * The workflow's file name under `.github/workflows/`, e.g. `build.yml`.
     */
    workflow: string;
    /**
     * The artifact's name as `actions/upload-artifact` gave it.
     */
    artifact: string;
  };
  /**
   * An asset of a GitHub Release of this repository. Example: `{ tag: 'v{shortSha}', asset: 'site-*.tar.gz' }`.
   */
  githubRelease?: {
    /**
     * The release's tag.
     */
    tag: string;
    /**
     * The asset's name, or a pattern with `*` and `?` that matches exactly one asset.
     */
    asset: string;
  };
  /**
   * An OCI artifact or image in a registry, e.g. `{ reference: 'ghcr.io/acme/site:sha-{sha}' }`. A tag is resolved to a digest when the deployment is planned, and that digest is what every server fetches.
   */
  oci?: {
    /**
     * `REGISTRY/REPOSITORY:TAG` or `REGISTRY/REPOSITORY@sha256:…`; the registry host is required.
     */
    reference: string;
    /**
     * Which layer, by its `org.opencontainers.image.title`, when the manifest has several.
     */
    layer?: string;
  };
  /**
   * A file over HTTPS with its SHA-256. Example: `{ url: 'https://cdn.acme.com/site-{sha}.tar.gz', sha256: '9f86d0…' }`.
   */
  url?: {
    /**
     * The file's URL: https (http only where the agent's `allow.artifactSources` names it).
     */
    url: string;
    /**
     * The file's SHA-256, 64 hex digits.
     */
    sha256: string;
  };
  /**
   * Where it lands, relative to the release directory (default `.`, the release itself). Must stay inside the release.
   */
  path?: string;
  /**
   * Unpack it (tar, tar.gz or zip, found from its bytes) into `path` — the default; `false` places the file itself at `path` (then `path` names the file).
   */
  unpack?: boolean;
}
/**
 * `repositories/<owner>/<name>.yml` in the config repo: where one application deploys. The file's path names the repository, e.g. `repositories/acme/shop.yml` is `acme/shop`.
 */
export interface RepositoryFile {
  /**
   * Where the application's git repository lives, for agents to fetch from in local mode: an `http(s)://`, `git://`, `ssh://` URL or an absolute path, e.g. `https://git.example.com/acme/shop.git`.
   */
  git?: string;
  /**
   * Path of the instruction file inside the application repository. Default `bitenvoy.yml`.
   */
  instructions?: string;
  /**
   * Environment name → where and how it deploys, e.g. `staging`, `production`.
   */
  environments: {
    [k: string]: Environment;
  };
}
/**
 * One deployment target of the application.
 */
export interface Environment {
  /**
   * The branch this environment follows, e.g. `main`.
   */
  branch: string;
  /**
   * The group (from `groups.yml`) whose agents receive the deployment.
   */
  group: string;
  /**
   * The rollout strategy: a name from `strategies.yml`, or the built-in `all-at-once` (default) or `one-at-a-time`.
   */
  strategy?: string;
  /**
   * Where people reach the deployed environment, e.g. `https://staging.example.com`.
   */
  url?: string;
  /**
   * Deploy every new head of `branch` once its required checks pass (GitHub mode). Default `false`: deploy only when asked (API, CLI, a GitHub deployment).
   */
  auto?: boolean;
  /**
   * The checks that must pass before an automatic deployment: names of check runs or commit-status contexts, e.g. `[test, lint]`, or `all` for every check run and status reported on the commit. Default `all`. Success, neutral and skipped pass; the newest run of each name counts.
   */
  requiredChecks?: 'all' | [string, ...string[]];
  /**
   * How long required checks may take to report on a new head before its automatic deployment is given up with a visible `error` status: seconds, or a duration like `30m`, `2h`. Default `1h`.
   */
  checksTimeout?: number | string;
  /**
   * Marks the GitHub Deployment as a production deployment (`production_environment`). Default: `true` for an environment named `production` or `prod`, else `false`.
   */
  productionEnvironment?: boolean;
  /**
   * Marks the GitHub Deployment as transient, an environment that goes away later such as a review app (`transient_environment`). Default `false`.
   */
  transientEnvironment?: boolean;
  /**
   * Who may run changing commands (`/deploy`, `/rollback`, `/lock`, `/unlock`) for this environment, on top of write, maintain or admin permission on the repository: GitHub user logins and/or teams as `org/team-slug`. Absent: everyone with write access.
   */
  deployers?: {
    /**
     * @maxItems 200
     */
    users?: string[];
    /**
     * @maxItems 50
     */
    teams?: string[];
  };
  /**
   * Whether `/deploy` may ship the head of a pull request from a fork. Default `false`.
   */
  allowForks?: boolean;
  /**
   * Whether `/deploy` may ship the head of a draft pull request. Default `false`.
   */
  allowDrafts?: boolean;
  /**
   * Logins allowed to `/deploy <environment> --force` a commit whose required checks are not green. Forced deployments say so in their status and in the audit log. Default: nobody.
   *
   * @maxItems 50
   */
  forceUsers?: string[];
  /**
   * Promotion order: the environment a commit must be live and successful on before it may deploy here, e.g. `staging` for `production`.
   */
  after?: string;
  /**
   * How long a `/lock` holds when it is not released with `/unlock`: seconds, or a duration like `8h`. Default: until unlocked.
   */
  lockTimeout?: number | string;
}
/**
 * `strategies.yml` in the config repo: named rollout strategies. The built-in names `all-at-once` and `one-at-a-time` can be used without defining them here.
 */
export interface StrategiesFile {
  /**
   * Strategy name → strategy. Names are lowercase letters, digits and dashes, e.g. `careful`.
   */
  strategies: {
    [k: string]: Strategy;
  };
}
/**
 * How a rollout moves through the servers of a group. `all-at-once`: every server in one batch. `one-at-a-time`: one server per batch, in agent-name order. `rolling`: batches of `batchSize`. `canary`: a first batch of `canary.size`, a pause or a manual gate, then the rest in batches of `batchSize`. `ordered`: the servers of each stage in turn (e.g. `eu`, then `us`, then the rest), each stage in batches of `batchSize`. A batch starts only when the one before it has ended within the failure policy.
 */
export interface Strategy {
  /**
   * The kind of rollout: `all-at-once`, `one-at-a-time`, `rolling`, `canary` or `ordered`.
   */
  type: 'all-at-once' | 'one-at-a-time' | 'rolling' | 'canary' | 'ordered';
  /**
   * What this strategy is for, for people reading the config.
   */
  description?: string;
  /**
   * Servers per batch for `rolling`, and after the canary or within each stage of `ordered`: a count like `5` or a percentage of the servers like `25%` (rounded up, at least one). Default: all remaining servers in one batch.
   */
  batchSize?: number | string;
  /**
   * `canary` only: the first batch and what happens after it.
   */
  canary?: {
    /**
     * Servers in the canary batch: a count or a percentage, e.g. `1` or `10%`.
     */
    size: number | string;
    /**
     * After the canary: wait this long (e.g. `10m`), or `manual` to wait until someone continues it (status page, `/continue <environment>`, or the API).
     */
    pause?: 'manual' | number | string;
  };
  /**
   * `ordered` only: the stages in order, each a label selector, e.g. `[{matchLabels: {region: eu}}, {matchLabels: {region: us}}]`. Servers no stage selects go last.
   *
   * @minItems 1
   * @maxItems 20
   */
  stages?:
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ]
    | [
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        },
        {
          matchLabels: {
            [k: string]: string;
          };
        }
      ];
  /**
   * Between batches: wait this long (e.g. `2m`), or `manual` to wait until someone continues the rollout. Default: none.
   */
  pause?: 'manual' | number | string;
  /**
   * Failed servers the rollout may have and still go on (and end in success): a count or a percentage of the servers. Default `0`: the first failure stops new servers from starting. Servers that go silent (lease expired) count as failed.
   */
  maxFailures?: number | string;
  /**
   * The other way to say it (AWS CodeDeploy's rule): servers that must succeed, a count or a percentage, e.g. `90%`. Use either this or `maxFailures`.
   */
  minHealthy?: number | string;
  /**
   * What happens when the failure policy is breached or the rollout times out. `stop` (default): no new server starts and the rollout ends `failure`, leaving the servers where they are. `rollback`: the same, then the last commit that succeeded in this environment is deployed again, as a new deployment (its own GitHub Deployment), to the servers that had started the failed commit; it runs with this strategy's batches but without its pauses, and a failed rollback is never rolled back. Agents that kept that release switch `current` back to it and run its instruction file's `rollback` steps instead of a full deploy.
   */
  onFailure?: 'stop' | 'rollback';
  /**
   * The longest the whole rollout may take, e.g. `30m`; past it, no new server starts and the rollout fails.
   */
  timeout?: number | string;
}
