/** What counts as a command in a pull-request comment, table-driven. */
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../app/commands/parse-command.js';

describe('parseCommand', () => {
  it.each([
    ['/deploy production', { name: 'deploy', environment: 'production', dryRun: false, force: false }],
    ['  /deploy   staging  ', { name: 'deploy', environment: 'staging', dryRun: false, force: false }],
    ['/DEPLOY Staging --Dry-Run', { name: 'deploy', environment: 'Staging', dryRun: true, force: false }],
    ['/deploy production --force\nbecause the flaky test is flaky', { name: 'deploy', environment: 'production', dryRun: false, force: true }],
    ['\n\n/rollback production', { name: 'rollback', environment: 'production' }],
    ['/continue production', { name: 'continue', environment: 'production' }],
    ['/lock production "db migration, back at 3"', { name: 'lock', global: false, environment: 'production', reason: 'db migration, back at 3' }],
    ["/lock production 'db migration'", { name: 'lock', global: false, environment: 'production', reason: 'db migration' }],
    ['/lock production freeze for the holidays', { name: 'lock', global: false, environment: 'production', reason: 'freeze for the holidays' }],
    ['/lock --global release freeze', { name: 'lock', global: true, reason: 'release freeze' }],
    ['/lock staging', { name: 'lock', global: false, environment: 'staging' }],
    ['/unlock staging', { name: 'unlock', global: false, environment: 'staging' }],
    ['/unlock --global', { name: 'unlock', global: true }],
    ['/status', { name: 'status' }],
    ['/help', { name: 'help' }],
    ['   /deploy staging', { name: 'deploy', environment: 'staging', dryRun: false, force: false }],
  ])('%j is a command', (body, command) => {
    expect(parseCommand(body)).toEqual({ kind: 'command', command });
  });

  it.each([
    ['no command at all'],
    ['please /deploy production later'],
    ['> /deploy production'],
    ['```\n/deploy production\n```'],
    ['`/deploy production`'],
    ['    indented code? no: /deploy is not first'],
    ['    /deploy staging'],
    ['\t/deploy staging'],
    ['  \t/deploy staging'],
    ['\n\n     /deploy production\n'],
    ['/'],
    ['/shrug'],
    ['https://example.com/deploy'],
    [''],
  ])('%j is not a command', (body) => {
    expect(parseCommand(body)).toBeUndefined();
  });

  it.each([
    ['/deploy', 'deploy', '`/deploy` needs an environment: `/deploy <environment>` deploys'],
    ['/deploy production staging', 'deploy', '`/deploy` takes one environment, got `production` `staging`'],
    ['/deploy production --yolo', 'deploy', '`--yolo` is not an option of `/deploy`; it takes `--dry-run`, `--force`'],
    ['/rollback', 'rollback', '`/rollback` needs an environment'],
    ['/continue', 'continue', '`/continue` needs an environment: `/continue <environment>` lets a rollout paused'],
    ['/lock', 'lock', '`/lock` needs an environment or `--global`'],
    ['/lock production "unfinished', 'lock', 'a quote in `"unfinished` is never closed'],
    ['/unlock production now', 'unlock', '`/unlock` takes only an environment or `--global`'],
    ['/status production', 'status', '`/status` takes no arguments'],
    ['/help --verbose', 'help', '`--verbose` is not an option of `/help`; it takes none'],
  ])('%j is explained', (body, name, message) => {
    const parsed = parseCommand(body);
    expect(parsed).toMatchObject({ kind: 'invalid', name });
    expect((parsed as { message: string }).message).toContain(message);
  });

  it.each([['/deplyo production', 'deplyo'], ['/lokc staging', 'lokc'], ['/stat', 'stat']])('%j is an unknown command we answer', (body, word) => {
    expect(parseCommand(body)).toEqual({ kind: 'unknown', word });
  });
});
