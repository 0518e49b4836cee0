/**
 * Session tokens handed out by `rpc/auth`.
 *
 * A token is 256 random bits, base64url. Only its SHA-256 digest is
 * kept, here and on the connections that logged in with it, so a memory
 * dump does not yield usable tokens. Tokens are looked up by digest: the
 * time a lookup takes depends on the digest, which an attacker cannot
 * steer towards a real one, so it leaks nothing about how much of a
 * guessed token matched; that is the constant-time comparison.
 *
 * A token ends after `idleMs` without use, after `maxLifeMs` however
 * much it is used, or when revoked.
 */
import { createHash, randomBytes } from 'node:crypto';

import type { Role } from './users.js';

/** Who a token belongs to. */
export interface Session {
  user: string;
  role: Role;
}

interface Entry extends Session {
  /** Epoch ms after which the token is refused for lack of use. */
  expiresAt: number;
  /** Epoch ms after which the token is refused whatever its use. */
  endsAt: number;
}

/** What `issue` hands out: 32 bytes in base64url, no padding. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * The digest under which a token is kept: what a connection holds
 * instead of the token itself.
 */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

export class TokenStore {
  /** Inactivity after which a token expires, milliseconds. */
  readonly idleMs: number;
  /** Longest a token lives, used or not, milliseconds. */
  readonly maxLifeMs: number;
  #entries = new Map<string, Entry>();
  #now: () => number;

  /**
   * @param idleMs inactivity after which a token expires, ms
   * @param maxLifeMs longest a token lives, ms; default no limit
   * @param now clock, epoch ms; for specs
   */
  constructor(
    idleMs: number,
    maxLifeMs = Infinity,
    now: () => number = Date.now
  ) {
    this.idleMs = idleMs;
    this.maxLifeMs = maxLifeMs;
    this.#now = now;
  }

  /** Issues a token; returns it with its validity in seconds. */
  issue(session: Session): { token: string; seconds: number } {
    this.#sweep();
    const token = randomBytes(32).toString('base64url');
    const now = this.#now();
    const entry = {
      user: session.user,
      role: session.role,
      expiresAt: now + this.idleMs,
      endsAt: now + this.maxLifeMs
    };
    this.#entries.set(tokenKey(token), entry);
    return { token, seconds: secondsLeft(entry, now) };
  }

  /** The token's session, extending its life; null if unknown/expired. */
  resolve(token: string): Session | null {
    if (!TOKEN_PATTERN.test(token)) return null;
    return this.resolveKey(tokenKey(token));
  }

  /** Like `resolve`, for a token known by its `tokenKey`. */
  resolveKey(key: string): Session | null {
    const entry = this.#entries.get(key);
    if (!entry) return null;
    const now = this.#now();
    if (entry.expiresAt <= now || entry.endsAt <= now) {
      this.#entries.delete(key);
      return null;
    }
    entry.expiresAt = now + this.idleMs;
    return { user: entry.user, role: entry.role };
  }

  /** Seconds a live token has left if unused; 0 when it is not live. */
  secondsLeft(key: string): number {
    const entry = this.#entries.get(key);
    return entry ? secondsLeft(entry, this.#now()) : 0;
  }

  /** Revokes a token; later requests with it get 401. */
  revoke(token: string): void {
    this.revokeKey(tokenKey(token));
  }

  /** Revokes a token known by its `tokenKey`. */
  revokeKey(key: string): void {
    this.#entries.delete(key);
  }

  /** Live tokens, for specs. */
  get size(): number {
    return this.#entries.size;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now || entry.endsAt <= now) {
        this.#entries.delete(key);
      }
    }
  }
}

function secondsLeft(entry: Entry, now: number): number {
  const end = Math.min(entry.expiresAt, entry.endsAt);
  return Math.max(0, Math.round((end - now) / 1000));
}
