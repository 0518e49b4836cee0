/**
 * Session tokens handed out by `rpc/auth`.
 *
 * A token is 256 random bits. Only its SHA-256 digest is kept, so a
 * memory dump does not yield usable tokens, and lookups by digest do not
 * leak how much of a guessed token matched.
 */
import { createHash, randomBytes } from 'node:crypto';

import type { Role } from './users.js';

/** Who a token belongs to. */
export interface Session {
  user: string;
  role: Role;
}

interface Entry extends Session {
  /** Epoch ms after which the token is refused. */
  expiresAt: number;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

export class TokenStore {
  /** Inactivity after which a token expires, milliseconds. */
  readonly idleMs: number;
  #entries = new Map<string, Entry>();
  #now: () => number;

  constructor(idleMs: number, now: () => number = Date.now) {
    this.idleMs = idleMs;
    this.#now = now;
  }

  /** Issues a token; returns it with its validity in seconds. */
  issue(session: Session): { token: string; seconds: number } {
    this.#sweep();
    const token = randomBytes(32).toString('base64url');
    this.#entries.set(digest(token), {
      ...session,
      expiresAt: this.#now() + this.idleMs
    });
    return { token, seconds: Math.round(this.idleMs / 1000) };
  }

  /** The token's session, extending its life; null if unknown/expired. */
  resolve(token: string): Session | null {
    const key = digest(token);
    const entry = this.#entries.get(key);
    if (!entry) return null;
    const now = this.#now();
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return null;
    }
    entry.expiresAt = now + this.idleMs;
    return { user: entry.user, role: entry.role };
  }

  /** Revokes a token; later requests with it get 401. */
  revoke(token: string): void {
    this.#entries.delete(digest(token));
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(key);
    }
  }
}
