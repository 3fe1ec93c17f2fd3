/**
 * The launchd daemon of the agent on macOS (`/Library/LaunchDaemons/dev.bitenvoy.agent.plist`): started at boot, kept
 * alive, as its own user, with time to stop its running step cleanly.
 * `templates/launchd/dev.bitenvoy.agent.plist` is this rendering for the defaults (a test keeps them equal).
 */
import { type ServiceSpec, SERVICE_NAMES, STOP_TIMEOUT_SECONDS } from './service-spec.js';

/** The XML text of a string: `&`, `<`, `>` and quotes escaped. */
function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The property list's text.
 *
 * @example
 * renderLaunchdPlist({ dir: '/var/lib/bitenvoy-agent', user: 'bitenvoy-agent', command: [...], writable: [], runAs: false });
 */
export function renderLaunchdPlist(spec: ServiceSpec): string {
  const args = spec.command.map((arg) => `\t\t<string>${xml(arg)}</string>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!--
  The BitEnvoy agent as a launchd daemon, written by \`bitenvoy agent install\` to
  /Library/LaunchDaemons/${SERVICE_NAMES.launchd}.plist. templates/launchd/${SERVICE_NAMES.launchd}.plist is this file
  for the default paths. launchd has no read-only file system switch: the agent's user's own permissions are the limit.
  ExitTimeOut gives a stopping agent time to stop its running step (SIGTERM, then SIGKILL after 10 s) and report it.
-->
<plist version="1.0">
<dict>
\t<key>Label</key>
\t<string>${SERVICE_NAMES.launchd}</string>
\t<key>ProgramArguments</key>
\t<array>
${args}
\t</array>
\t<key>UserName</key>
\t<string>${xml(spec.user)}</string>
\t<key>WorkingDirectory</key>
\t<string>${xml(spec.dir)}</string>
\t<key>EnvironmentVariables</key>
\t<dict>
\t\t<key>BITENVOY_LOG_FORMAT</key>
\t\t<string>json</string>
\t</dict>
\t<key>RunAtLoad</key>
\t<true/>
\t<key>KeepAlive</key>
\t<dict>
\t\t<key>SuccessfulExit</key>
\t\t<false/>
\t</dict>
\t<key>ThrottleInterval</key>
\t<integer>5</integer>
\t<key>ExitTimeOut</key>
\t<integer>${STOP_TIMEOUT_SECONDS}</integer>
\t<key>StandardOutPath</key>
\t<string>${xml(spec.dir)}/agent.log</string>
\t<key>StandardErrorPath</key>
\t<string>${xml(spec.dir)}/agent.log</string>
</dict>
</plist>
`;
}
