/**
 * Sign-in sessions for the status pages: who is signed in (the admin token's single operator, a named local operator,
 * or a person signed in with GitHub), so what they may see and do follows who they are and the audit log names them.
 *
 * A session is a random id in an HttpOnly cookie, kept in the store with its expiry — not a stateless HMAC of an
 * issue time — because signing out must really end it: a copied cookie stops working at once, not 12 hours later.
 * The store is what several hub replicas share, so each of them knows every session. The store holds only the id's
 * sha256, so reading the store yields no usable cookie; and each session carries an HMAC of its id keyed by the admin
 * token it was signed in with, so a hub started with another admin token refuses every older session.
 *
 * @example
 * const sessions = new DashboardSessions({ store, adminToken, publicUrl: () => publicUrl });
 * const session = await sessions.start({ kind: 'github', login: 'octocat' }); // after GitHub said who it is
 * await sessions.find(cookieValue); // → the session, or undefined when unknown, ended, expired or from another token
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { keys } from '../model.js';
import type { Store } from '../store/store.js';

/** How long a sign-in lasts: a working day, then the admin token is asked for again. */
export const SESSION_TTL_MS = 12 * 3600_000;

/**
 * Who a session is: `admin` signed in with the shared admin token (audited as `admin`), `operator` a named local
 * operator (`bitenvoy hub user create`), `github` a person GitHub vouched for (their permission on each repository
 * decides what they may see and do).
 */
export type SignedInAs = { kind: 'admin' } | { kind: 'operator'; login: string; operatorId: string } | { kind: 'github'; login: string };

export interface DashboardSession {
  id: string;
  who: SignedInAs;
  /** Sent back in every form of the session: a page on another site cannot know it. */
  csrfToken: string;
  expiresAt: string;
}

interface SessionRecord {
  /** Absent in sessions from before named sign-ins: those were all the admin token's. */
  who?: SignedInAs;
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
  /** HMAC of the session id keyed by the admin token of the sign-in. */
  tokenCheck: string;
}

/** 32 random bytes, base64url: anything else in the cookie is not ours and is not looked up. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** The name the audit log records for a session's actions: never a shared `dashboard`. */
export function actorOf(who: SignedInAs): string {
  return who.kind === 'admin' ? 'admin' : who.login;
}

export class DashboardSessions {
  #store: Store;
  #adminToken: string;
  #publicUrl: () => string;
  #now: () => number;
  #operatorExists: (login: string, operatorId: string) => Promise<boolean>;

  /**
   * @param deps.operatorExists whether a named operator still exists as it was when the session started (removing
   * one, or removing and creating the name again, ends their sessions without listing them).
   */
  constructor(deps: { store: Store; adminToken: string; publicUrl: () => string; now?: () => number; operatorExists?: (login: string, operatorId: string) => Promise<boolean> }) {
    this.#store = deps.store;
    this.#adminToken = deps.adminToken;
    this.#publicUrl = deps.publicUrl;
    this.#now = deps.now ?? Date.now;
    this.#operatorExists = deps.operatorExists ?? (async () => false);
  }

  /** The hub's own origin (from BITENVOY_PUBLIC_URL): the only one the pages' forms may be posted from. */
  get origin(): string {
    return new URL(this.#publicUrl()).origin;
  }

  /** Whether people reach the hub over https: then the cookie is `Secure`. */
  get secure(): boolean {
    return this.origin.startsWith('https:');
  }

  /** Starts a session for `who`; call it only once who they are was checked (admin token, link, GitHub). */
  async start(who: SignedInAs = { kind: 'admin' }): Promise<DashboardSession> {
    const id = randomBytes(32).toString('base64url');
    const now = this.#now();
    const record: SessionRecord = {
      who,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + SESSION_TTL_MS).toISOString(),
      tokenCheck: this.#tokenCheck(id),
    };
    await this.#store.set(keys.dashboardSession(digest(id)), record, SESSION_TTL_MS);
    return { id, who, csrfToken: record.csrfToken, expiresAt: record.expiresAt };
  }

  /** The session a cookie names, or undefined when it is unknown, ended, expired or from another admin token. */
  async find(id: string | undefined): Promise<DashboardSession | undefined> {
    if (!id || !SESSION_ID.test(id)) return undefined;
    const key = keys.dashboardSession(digest(id));
    const record = await this.#store.get<SessionRecord>(key);
    if (!record) return undefined;
    if (Date.parse(record.expiresAt) <= this.#now()) {
      await this.#store.delete(key);
      return undefined;
    }
    if (!timingSafeEqual(Buffer.from(record.tokenCheck), Buffer.from(this.#tokenCheck(id)))) return undefined;
    const who = record.who ?? { kind: 'admin' };
    if (who.kind === 'operator' && !(await this.#operatorExists(who.login, who.operatorId))) {
      await this.#store.delete(key);
      return undefined;
    }
    return { id, who, csrfToken: record.csrfToken, expiresAt: record.expiresAt };
  }

  async end(id: string): Promise<void> {
    await this.#store.delete(keys.dashboardSession(digest(id)));
  }

  /** Seconds until the session expires, for the cookie's Max-Age. */
  secondsLeft(session: DashboardSession): number {
    return Math.max(0, Math.floor((Date.parse(session.expiresAt) - this.#now()) / 1000));
  }

  #tokenCheck(id: string): string {
    return createHmac('sha256', this.#adminToken).update(`bitenvoy dashboard session ${id}`).digest('hex');
  }
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
