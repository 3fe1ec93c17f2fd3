/**
 * Sign in with GitHub: the OAuth web flow of the GitHub App's own user authorization. The hub sends the browser to
 * `{GitHub}/login/oauth/authorize` with a random `state`, GitHub sends it back to `/login/github/callback` with a
 * `code`, and the hub exchanges the code server-side (`POST {GitHub}/login/oauth/access_token`, with the client
 * secret) for a user token, with which it asks only `GET /user`: who this is. The token is then dropped — never
 * stored, never in a cookie or a page; what the person may do is asked later with the App's installation token.
 *
 * `state` is bound to the browser that started (it is also in a cookie of that browser, compared on the way back) and
 * single use (its record is deleted when spent, on whichever replica), so a callback URL cannot be replayed or
 * planted in another person's browser (login CSRF).
 *
 * @example
 * const { state, authorizeUrl } = await startGitHubSignIn(store, oauth, { next: '/deployments/dep_1', redirectUri });
 * // … set the state cookie, redirect to authorizeUrl; on the callback:
 * const { login, next } = await finishGitHubSignIn(store, oauth, { state, stateCookie, code, redirectUri });
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { BitEnvoyError } from '../../lib/errors.js';
import { hashSecret } from '../enroll/create-enroll-token.js';
import type { HubSettings } from '../hub-settings.js';
import { keys } from '../model.js';
import type { Store } from '../store/store.js';

export type GitHubSignInSettings = NonNullable<HubSettings['githubSignIn']>;

/** How long a person may take on GitHub's authorization page. */
export const SIGN_IN_STATE_TTL_MS = 10 * 60_000;
const GITHUB_TIMEOUT_MS = 10_000;

interface StateRecord {
  next: string;
  expiresAt: string;
}

export async function startGitHubSignIn(store: Store, settings: GitHubSignInSettings, options: { next: string; redirectUri: string; now?: number }): Promise<{ state: string; authorizeUrl: string }> {
  const state = randomBytes(32).toString('base64url');
  const now = options.now ?? Date.now();
  await store.set<StateRecord>(keys.signInState(hashSecret(state)), { next: options.next, expiresAt: new Date(now + SIGN_IN_STATE_TTL_MS).toISOString() }, SIGN_IN_STATE_TTL_MS);
  const url = new URL('/login/oauth/authorize', settings.webUrl);
  url.searchParams.set('client_id', settings.clientId);
  url.searchParams.set('redirect_uri', options.redirectUri);
  url.searchParams.set('state', state);
  // A GitHub App's user authorization has no scopes; this asks GitHub not to offer signing up on the way.
  url.searchParams.set('allow_signup', 'false');
  return { state, authorizeUrl: url.toString() };
}

/**
 * Checks the callback's `state` against the browser's cookie and spends it, exchanges the `code`, and asks GitHub who
 * signed in. BE_FORBIDDEN for a state that is not this browser's or not live; BE_UNAUTHORIZED when GitHub refuses the
 * code; BE_BUSY when GitHub does not answer. Each message says what to do.
 */
export async function finishGitHubSignIn(
  store: Store,
  settings: GitHubSignInSettings,
  input: { state: string | undefined; stateCookie: string | undefined; code: string | undefined; redirectUri: string; now?: number; fetch?: typeof fetch },
): Promise<{ login: string; next: string }> {
  const again = 'start again from the sign-in page';
  const { state, stateCookie, code } = input;
  if (!state || !stateCookie || !sameSecret(state, stateCookie)) {
    throw new BitEnvoyError('BE_FORBIDDEN', `refused: this sign-in was not started in this browser (its \`state\` does not match this browser's sign-in cookie, or the cookie is gone); ${again}`);
  }
  const key = keys.signInState(hashSecret(state));
  const record = await store.get<StateRecord>(key);
  if (!record || !(await store.delete(key))) throw new BitEnvoyError('BE_FORBIDDEN', `refused: this sign-in was used already, or is unknown to this hub; ${again}`);
  if (Date.parse(record.expiresAt) <= (input.now ?? Date.now())) throw new BitEnvoyError('BE_FORBIDDEN', `refused: this sign-in took longer than ${SIGN_IN_STATE_TTL_MS / 60_000} minutes; ${again}`);
  if (!code || code.length > 200) throw new BitEnvoyError('BE_BAD_REQUEST', `GitHub sent no authorization code back; ${again}`);

  const fetchFn = input.fetch ?? fetch;
  const exchanged = await askGitHub(fetchFn, new URL('/login/oauth/access_token', settings.webUrl).toString(), {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: settings.clientId, client_secret: settings.clientSecret, code, redirect_uri: input.redirectUri }),
  });
  const token = (exchanged as { access_token?: unknown }).access_token;
  if (typeof token !== 'string' || !token) {
    const error = (exchanged as { error?: unknown; error_description?: unknown }).error;
    const hint =
      error === 'incorrect_client_credentials'
        ? "GITHUB_CLIENT_ID or GITHUB_CLIENT_SECRET is wrong: copy them from the GitHub App's settings page"
        : error === 'redirect_uri_mismatch'
          ? `the App's callback URL is not ${input.redirectUri}: set it in the App's settings, or BITENVOY_PUBLIC_URL to the address people use`
          : again;
    throw new BitEnvoyError('BE_UNAUTHORIZED', `GitHub refused the sign-in${typeof error === 'string' ? ` (${error.slice(0, 80)})` : ''}; ${hint}`);
  }
  const user = (await askGitHub(fetchFn, `${settings.apiUrl.replace(/\/+$/, '')}/user`, {
    headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${token}`, 'x-github-api-version': '2022-11-28', 'user-agent': 'bitenvoy-hub' },
  })) as { login?: unknown; type?: unknown };
  if (typeof user.login !== 'string' || !/^[A-Za-z0-9-]{1,39}(\[bot\])?$/.test(user.login)) {
    throw new BitEnvoyError('BE_UNAUTHORIZED', `GitHub did not say who signed in; ${again}`);
  }
  return { login: user.login, next: record.next };
}

async function askGitHub(fetchFn: typeof fetch, url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(GITHUB_TIMEOUT_MS), redirect: 'error' });
  } catch (err) {
    throw new BitEnvoyError('BE_BUSY', `GitHub does not answer at ${new URL(url).origin} (${(err as Error).message}); try again in a moment, or check GHE_HOST and GHE_PROTOCOL`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status === 401) throw new BitEnvoyError('BE_UNAUTHORIZED', 'GitHub refused the token it had just given; start again from the sign-in page');
  if (!res.ok || typeof body !== 'object' || body === null) {
    throw new BitEnvoyError('BE_BUSY', `GitHub answered ${res.status} at ${new URL(url).pathname}; try again in a moment`);
  }
  return body;
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(hashSecret(a)), Buffer.from(hashSecret(b)));
}
