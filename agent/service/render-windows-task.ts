/**
 * The agent on Windows, as a scheduled task, not a service: a Windows service must answer the Service Control
 * Manager, which a plain Node executable does not (`sc.exe create` on it fails to start with error 1053). The task
 * starts at boot as SYSTEM, runs without a time limit and is started again by Task Scheduler when it fails (every
 * minute, up to 999 times). Stopping it (`schtasks /End`) ends the process at once: no clean stop of a running step
 * as on Linux; the agent reports such a step as interrupted when it starts again.
 * `templates/windows/bitenvoy-agent-task.xml` is this rendering for the defaults (a test keeps them equal).
 */
import { type ServiceSpec } from './service-spec.js';

/** The defaults of the Windows template: the agent executable and directory. */
export const WINDOWS_DEFAULT_SPEC: ServiceSpec = {
  dir: 'C:\\ProgramData\\BitEnvoy\\agent',
  user: 'SYSTEM',
  command: ['C:\\Program Files\\BitEnvoy\\bitenvoy-agent-win-x64.exe', 'agent', 'run', '--dir', 'C:\\ProgramData\\BitEnvoy\\agent'],
  writable: [],
  runAs: false,
};

/** Element text: `&`, `<` and `>` escaped (quotes are plain text there). */
function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A command-line argument as Windows programs read it: quoted when it has a space. Paths never hold quotes. */
function windowsArg(arg: string): string {
  return /[\s]/.test(arg) ? `"${arg}"` : arg;
}

/**
 * The task's XML (Task Scheduler schema 1.2), for `schtasks /Create /XML FILE /TN BitEnvoyAgent`.
 *
 * @example
 * renderWindowsTask(WINDOWS_DEFAULT_SPEC);
 */
export function renderWindowsTask(spec: ServiceSpec): string {
  const [command = '', ...args] = spec.command;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- The BitEnvoy agent as a scheduled task, written by \`bitenvoy agent install\`: at boot, as SYSTEM, no time limit,
     started again when it fails. A scheduled task, not a service: see templates/windows/README.md. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>BitEnvoy agent: deploys the commits its hub assigns, within agent.yml's rules</Description>
  </RegistrationInfo>
  <Triggers>
    <BootTrigger>
      <Enabled>true</Enabled>
    </BootTrigger>
  </Triggers>
  <Principals>
    <Principal id="Agent">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <AllowHardTerminate>true</AllowHardTerminate>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Agent">
    <Exec>
      <Command>${xml(command)}</Command>
      <Arguments>${xml(args.map(windowsArg).join(' '))}</Arguments>
      <WorkingDirectory>${xml(spec.dir)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
`;
}
