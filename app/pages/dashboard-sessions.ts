/**
 * Sign-in sessions for the status pages' buttons (continue, cancel). Reading the pages needs none.
 *
 * A session is a random id in an HttpOnly cookie, kept in the store with its expiry — not a stateless HMAC of an
 * issue time — because signing out must really end it: a copied cookie stops working at once, not 12 hours later.
 * The store is what several hub replicas share, so each of them knows every session. The store holds only the id's
 * sha256, so reading the store yields no usable cookie; and each session carries an HMAC of its id keyed by the admin
 * token it was signed in with, so a hub started with another admin token refuses every older session.
 *
 * @example
 * const sessions = new DashboardSessions({ store, adminToken, publicUrl: () => publicUrl });
 * const session = await sessions.start(); // after the admin token was checked
 * await sessions.find(cookieValue); // → the session, or undefined when unknown, expired or from another token
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { keys } from '../model.js';
import type { Store } from '../store/store.js';

/** How long a sign-in lasts: a working day, then the admin token is asked for again. */
export const SESSION_TTL_MS = 12 * 3600_000;

export interface DashboardSession {
  id: string;
  /** Sent back in every form of the session: a page on another site cannot know it. */
  csrfToken: string;
  expiresAt: string;
}

interface SessionRecord {
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
  /** HMAC of the session id keyed by the admin token of the sign-in. */
  tokenCheck: string;
}

/** 32 random bytes, base64url: anything else in the cookie is not ours and is not looked up. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class DashboardSessions {
  #store: Store;
  #adminToken: string;
  #publicUrl: () => string;
  #now: () => number;

  constructor(deps: { store: Store; adminToken: string; publicUrl: () => string; now?: () => number }) {
    this.#store = deps.store;
    this.#adminToken = deps.adminToken;
    this.#publicUrl = deps.publicUrl;
    this.#now = deps.now ?? Date.now;
  }

  /** The hub's own origin (from BITENVOY_PUBLIC_URL): the only one the pages' forms may be posted from. */
  get origin(): string {
    return new URL(this.#publicUrl()).origin;
  }

  /** Whether people reach the hub over https: then the cookie is `Secure`. */
  get secure(): boolean {
    return this.origin.startsWith('https:');
  }

  /** Starts a session; call it only after the admin token was checked. */
  async start(): Promise<DashboardSession> {
    const id = randomBytes(32).toString('base64url');
    const now = this.#now();
    const record: SessionRecord = {
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + SESSION_TTL_MS).toISOString(),
      tokenCheck: this.#tokenCheck(id),
    };
    await this.#store.set(keys.dashboardSession(digest(id)), record, SESSION_TTL_MS);
    return { id, csrfToken: record.csrfToken, expiresAt: record.expiresAt };
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
    return { id, csrfToken: record.csrfToken, expiresAt: record.expiresAt };
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
