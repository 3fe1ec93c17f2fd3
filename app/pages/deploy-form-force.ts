/**
 * Deploying a commit whose checks are not green from the deploy page: the rule is `/deploy <environment> --force`'s
 * (commands/deploy-command.ts `mayForce`) — only a person signed in with GitHub whose login is among the
 * environment's `forceUsers` may, and only by confirming it (a checkbox naming the checks, then "Deploy anyway
 * (forced)"). Everyone else is told which checks hold the commit and who may deploy past them. The admin token's
 * operator and named local operators are not GitHub logins, so `forceUsers` never names them. Local mode has no
 * checks, so nothing here applies there.
 *
 * @example
 * const hold = checksHold({ env, environment: 'production', who: session?.who, checks });
 * if (hold && !(hold.mayForce && wantsForce)) blockers.push(hold.refusal);
 */
import type { Environment } from '../../config-schema/types.generated.js';
import { mayForce } from '../commands/deploy-command.js';
import type { SignedInAs } from './dashboard-sessions.js';
import type { CandidateChecks } from './deploy-form-candidates.js';

/** What the checks of a commit that are not green mean for the person looking. */
export interface ChecksHold {
  /** For people: the checks (red ones named) and, unless the person may force, who may. */
  refusal: string;
  /** The checks as evaluated, for the confirmation and the audit log. */
  checks: string;
  /** The person may deploy it anyway, forced, after confirming. */
  mayForce: boolean;
}

/** Undefined when the checks do not hold the commit back: green, or local mode (no checks). */
export function checksHold(args: { env: Pick<Environment, 'forceUsers'>; environment: string; who: SignedInAs | undefined; checks: CandidateChecks }): ChecksHold | undefined {
  const { env, environment, who, checks } = args;
  if (checks.verdict === 'green' || checks.verdict === 'none') return undefined;
  const may = who?.kind === 'github' && mayForce(env, who.login);
  const users = (env.forceUsers ?? []).map((u) => `@${u}`).join(', ');
  const whoMay = users
    ? `only forceUsers of \`${environment}\` (${users}) may deploy it anyway, signed in with GitHub${who?.kind === 'github' ? `, and @${who.login} is not one of them` : ''}`
    : `only forceUsers of \`${environment}\` may deploy it anyway, and it has none: list GitHub logins in its \`forceUsers\` to allow it`;
  return {
    refusal: `its checks are not green (${checks.description})${may ? '; as one of its forceUsers you may deploy it anyway: confirm "Deploy anyway (forced)" on its plan' : `; ${whoMay}`}`,
    checks: checks.description,
    mayForce: may,
  };
}

/** The form's answer to "Deploy anyway": the box, ticked, names the very commit (a stale or forged form does not). */
export function forceConfirmed(form: URLSearchParams, sha: string): boolean {
  return form.get('confirm') === sha;
}
