/**
 * The sign-in cookie, written by hand rather than with `ctx.cookies.set`: that one refuses a `Secure` cookie on a
 * plain-http request, which is what a hub behind a TLS-terminating proxy receives when the proxy sends no
 * `X-Forwarded-Proto`. Whether the cookie is `Secure` follows BITENVOY_PUBLIC_URL, the address people use.
 *
 * @example
 * ctx.append('set-cookie', sessionCookie(session.id, sessions.secondsLeft(session), sessions.secure));
 */
import type { Context } from 'koa';

export const SESSION_COOKIE = 'bitenvoy_session';

/** HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), for the whole hub. */
export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  const expires = new Date(Date.now() + maxAgeSeconds * 1000).toUTCString();
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}; Expires=${expires}${secure ? '; Secure' : ''}`;
}

/** Tells the browser to forget the cookie (signing out, or a cookie that names no session any more). */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${secure ? '; Secure' : ''}`;
}

export function readSessionCookie(ctx: Context): string | undefined {
  return ctx.cookies.get(SESSION_COOKIE) || undefined;
}

/**
 * The Sign in with GitHub attempt's `state`, bound to this browser. SameSite=Lax, unlike the session cookie: GitHub's
 * redirect back is a navigation from another site, on which a browser sends Lax cookies but never Strict ones. Only
 * sent to the callback path, and for 10 minutes.
 */
export const SIGN_IN_STATE_COOKIE = 'bitenvoy_sign_in';
const STATE_PATH = '/login/github';

export function signInStateCookie(state: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SIGN_IN_STATE_COOKIE}=${state}; Path=${STATE_PATH}; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

export function clearedSignInStateCookie(secure: boolean): string {
  return `${SIGN_IN_STATE_COOKIE}=; Path=${STATE_PATH}; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${secure ? '; Secure' : ''}`;
}

export function readSignInStateCookie(ctx: Context): string | undefined {
  return ctx.cookies.get(SIGN_IN_STATE_COOKIE) || undefined;
}
