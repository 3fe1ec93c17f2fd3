/**
 * The module behind each top-level command, loaded on demand: an agent on a small server must not pay for the hub's
 * modules (Probot, Koa, the store). Each function gets the words after the command's name, subcommands included.
 */
export type CommandFunction = (args: string[]) => Promise<number>;

export const COMMAND_LOADERS: Readonly<Record<string, () => Promise<CommandFunction>>> = {
  hub: async () => (await import('./commands/hub.js')).hubCommand,
  agent: async () => (await import('./commands/agent.js')).agentCommand,
  validate: async () => (await import('./commands/validate.js')).validateCommand,
  deploy: async () => (await import('./commands/deploy.js')).deployCommand,
  plan: async () => (await import('./commands/plan.js')).planCommand,
  agents: async () => (await import('./commands/agents.js')).agentsCommand,
  continue: async () => (await import('./commands/continue.js')).continueCommand,
  cancel: async () => (await import('./commands/cancel.js')).cancelCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  logs: async () => (await import('./commands/logs.js')).logsCommand,
  rollback: async () => (await import('./commands/rollback.js')).rollbackCommand,
  lock: async () => (await import('./commands/lock.js')).lockCommand,
  unlock: async () => (await import('./commands/lock.js')).unlockCommand,
  audit: async () => (await import('./commands/audit.js')).auditCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
  store: async () => (await import('./commands/store.js')).storeCommand,
};
