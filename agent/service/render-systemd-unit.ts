/**
 * The systemd unit of the agent: its own user, a read-only system but for its directory and the deploy targets
 * named, no new privileges, restart on failure, and a stop that lets the running step end cleanly.
 * `templates/systemd/bitenvoy-agent.service` is this rendering for the defaults (a test keeps them equal).
 */
import { type ServiceSpec, STOP_TIMEOUT_SECONDS } from './service-spec.js';

/** What a step needs to run as another user through `setpriv` (agent.yml `runAs`), and to stop what it started. */
export const RUN_AS_CAPABILITIES = 'CAP_SETUID CAP_SETGID CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE CAP_KILL';

/** Folders `ProtectHome=yes` hides. */
const HOME_FOLDERS = ['/home', '/root', '/run/user'];

/**
 * The unit file's text. Paths must have passed `checkServicePath` (no spaces, quotes or `%`).
 *
 * @example
 * renderSystemdUnit({ dir: '/var/lib/bitenvoy-agent', user: 'bitenvoy-agent', command: [...], writable: ['/srv/www'], runAs: false });
 */
export function renderSystemdUnit(spec: ServiceSpec): string {
  const writable = [spec.dir, ...spec.writable];
  const underHome = writable.some((path) => HOME_FOLDERS.some((home) => path === home || path.startsWith(`${home}/`)));
  return `# The BitEnvoy agent as a systemd service, written by \`bitenvoy agent install\`.
# templates/systemd/bitenvoy-agent.service is this file for the default paths; edit a copy, not this one
# (\`bitenvoy agent install\` writes it again), or override lines with \`systemctl edit bitenvoy-agent\`.
[Unit]
Description=BitEnvoy agent: deploys the commits its hub assigns, within agent.yml's rules
Documentation=https://github.com/bitenvoy/bitenvoy#install-the-agent-as-a-service
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
# Its own user (and that user's group), never root; \`bitenvoy agent install\` creates it and gives it the agent
# directory.
User=${spec.user}
WorkingDirectory=${spec.dir}
ExecStart=${spec.command.join(' ')}
Environment=BITENVOY_LOG_FORMAT=json
Restart=on-failure
RestartSec=5s
# Stopping: SIGTERM to the agent alone; it stops its running step (SIGTERM, then SIGKILL after 10 s) and reports
# it. Whatever is left after TimeoutStopSec gets SIGKILL.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=${STOP_TIMEOUT_SECONDS}s

# Hardening: the whole file system is read-only but for the agent directory and the deploy targets below
# (\`bitenvoy agent install --writable PATH\`).
ProtectSystem=strict
ReadWritePaths=${writable.join(' ')}
${underHome ? '# A writable path is under /home, /root or /run/user: those stay visible, read-only but for it.\nProtectHome=read-only' : 'ProtectHome=yes'}
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
${controlGroupLines(spec.limits ?? false)}
RestrictSUIDSGID=yes
LockPersonality=yes
${capabilityLines(spec.runAs)}

[Install]
WantedBy=multi-user.target
`;
}

/**
 * The cgroup file system is read-only to the agent, unless agent.yml's `limits` has it bound its steps: then systemd
 * delegates the cpu and memory controllers of the service's own subtree to it (and nothing above it).
 */
function controlGroupLines(limits: boolean): string {
  if (!limits) return 'ProtectControlGroups=yes';
  return `# agent.yml has limits: the agent makes a cgroup per step below its own (its subtree alone is delegated).
Delegate=cpu memory`;
}

/** No capability at all, unless agent.yml's `runAs` needs to switch users. */
function capabilityLines(runAs: boolean): string {
  if (!runAs) return '# No capabilities: agent.yml has no runAs.\nCapabilityBoundingSet=';
  return `# agent.yml has runAs: steps run as other users (setpriv), which takes these capabilities.
AmbientCapabilities=${RUN_AS_CAPABILITIES}
CapabilityBoundingSet=${RUN_AS_CAPABILITIES}`;
}
