import { BitEnvoyError } from '../../lib/errors.js';
import { oneLine } from '../../lib/strip-controls.js';
import { synopsis } from '../command-registry.js';
import { print, printError } from '../output.js';
import { adminRequest, resolveAdminTarget } from './admin-client.js';
import { parseCommand } from './parse-options.js';

/**
 * `bitenvoy hub user create NAME | list | remove NAME`: named operators for the status pages, through the running
 * hub's admin API (`/api/v1/operators`) with the admin token, as `bitenvoy hub token create` reaches it.
 *
 * @example
 * await hubUserCommand(['create', 'alice']); // prints https://hub.example.com/login/link?token=bto_…
 */
export async function hubUserCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'create' || sub === 'remove') {
    const path = `hub user ${sub}` as const;
    const { values, positionals } = parseCommand(path, rest);
    const name = positionals[0];
    if (!name || positionals.length > 1) throw new BitEnvoyError('BE_USAGE', `give one operator name\nusage: ${synopsis(path)}`);
    const target = await resolveAdminTarget(values.hub, values.token);
    if (sub === 'remove') {
      await adminRequest(target, 'DELETE', `/operators/${encodeURIComponent(name)}`);
      printError(`Removed operator ${name}: their sessions have ended and their unused links no longer work.`);
      return 0;
    }
    const made = await adminRequest<{ name: string; existed: boolean; link: string; expiresAt: string }>(target, 'POST', '/operators', { name });
    print(oneLine(String(made.link)));
    printError(
      `${made.existed ? `Operator ${oneLine(made.name)} exists already: a new` : `Operator ${oneLine(made.name)} made. A`} one-time sign-in link, valid until ${oneLine(String(made.expiresAt))}. ` +
        'Give it to them privately: opening it and pressing Sign in starts their session, and what they do is audited under their name.',
    );
    return 0;
  }
  if (sub === 'list') {
    const { values } = parseCommand('hub user list', rest);
    const target = await resolveAdminTarget(values.hub, values.token);
    const { operators } = await adminRequest<{ operators: Array<{ name: string; createdAt: string }> }>(target, 'GET', '/operators');
    if (values.json) print(JSON.stringify(operators, null, 2));
    else if (!operators.length) printError('No named operators. `bitenvoy hub user create NAME` makes one.');
    else for (const o of operators) print(`${oneLine(o.name)}\tsince ${oneLine(o.createdAt)}`);
    return 0;
  }
  throw new BitEnvoyError('BE_USAGE', `unknown \`hub user\` command \`${sub ?? ''}\`; the ones there are: create, list, remove\nRun \`bitenvoy hub user --help\`.`);
}
