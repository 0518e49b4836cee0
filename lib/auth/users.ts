/**
 * Accounts: a users file in the data directory holding, for each user, a
 * role and a scrypt hash of the password.
 *
 * File format (`users.json`, mode 0600):
 *
 *   { "users": { "admin": { "role": "full",
 *                           "password": "scrypt$32768$8$3$<salt>$<hash>" } } }
 *
 * The hash names its parameters (N, r, p), so hashes made with earlier
 * ones keep verifying; a successful login re-hashes them with the
 * current ones. Salt and hash are base64. Writes go to a temporary file
 * renamed over the old one, so a crash never leaves half a file.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `full` may run and kill jobs; `read` may list and watch. */
export type Role = 'full' | 'read';

export const roles: readonly Role[] = ['full', 'read'];

interface UserRecord {
  role: Role;
  password: string;
}

interface UsersFile {
  users: Record<string, UserRecord>;
}

/** scrypt parameters: cost N, block size r, parallelism p. */
interface Parameters {
  cost: number;
  blockSize: number;
  parallelism: number;
}

/**
 * Parameters of new hashes: 32 MiB (128·N·r) and 3 passes over it, as
 * strong as N = 2^17, r = 8, p = 1 by OWASP's reckoning, at a quarter of
 * its memory. Above 32 MiB, glibc takes the block with mmap and unmaps
 * it when freed, whatever thread of the libuv pool ran the check; at 16
 * MiB (N = 2^14) every pool thread that ever checked a password would
 * keep 16 MiB of its arena for good. See docs/security.md.
 */
const CURRENT: Parameters = { cost: 32768, blockSize: 8, parallelism: 3 };
const KEY_LENGTH = 32;

/**
 * How long a password that passed the scrypt check passes again without
 * it, ms: 5 minutes. REST clients using Basic send the password with every
 * request; each would otherwise cost a check of about 0.2 s of a core.
 */
export const VERIFIED_TTL_MS = 5 * 60 * 1000;

/** Names users may have: letters, digits, `._-`, 1 to 64 characters. */
export const userNamePattern = /^[A-Za-z0-9._-]{1,64}$/;

function derive(
  password: string,
  salt: Buffer,
  { cost, blockSize, parallelism }: Parameters
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_LENGTH,
      { N: cost, r: blockSize, p: parallelism, maxmem: 256 * cost * blockSize },
      (error, key) => (error ? reject(error) : resolve(key))
    );
  });
}

/** Hashes a password for the users file, with the current parameters. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, CURRENT);
  return [
    'scrypt', CURRENT.cost, CURRENT.blockSize, CURRENT.parallelism,
    salt.toString('base64'), key.toString('base64')
  ].join('$');
}

/** Checks a password against a hash made by `hashPassword`, now or before. */
export async function checkPassword(
  password: string,
  hash: string
): Promise<boolean> {
  const [scheme, cost, blockSize, parallelism, salt, key] = hash.split('$');
  if (scheme !== 'scrypt' || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), {
    cost: Number(cost),
    blockSize: Number(blockSize),
    parallelism: Number(parallelism)
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** True when `hash` was made with other parameters than new hashes get. */
function needsRehash(hash: string): boolean {
  const { cost, blockSize, parallelism } = CURRENT;
  return !hash.startsWith(`scrypt$${cost}$${blockSize}$${parallelism}$`);
}

export interface UserStoreOptions {
  /** Clock for {@link VERIFIED_TTL_MS}, epoch ms; default Date.now. */
  now?: () => number;
  /**
   * Told when a login's re-hash could not be saved; the login still
   * succeeds and the old hash stays. Default: ignored.
   */
  onRehashFailed?: (name: string, error: Error) => void;
}

/** The users of one data directory. */
export class UserStore {
  readonly path: string;
  #users: Record<string, UserRecord>;
  // Checked when the user does not exist, so that a wrong name costs as
  // much time as a wrong password.
  #decoy: Promise<string>;
  #onRehashFailed: UserStoreOptions['onRehashFailed'];
  #rehashing: Promise<void> = Promise.resolve();
  #now: () => number;
  /**
   * Per user, the last password that passed: an HMAC of it under a key
   * that lives only in this process, the hash it passed against (a new
   * password ends it) and when it expires.
   */
  #verified = new Map<string, { digest: Buffer; hash: string; until: number }>();
  #verifiedKey = randomBytes(32);
  #checks = 0;

  private constructor(
    path: string,
    users: Record<string, UserRecord>,
    options: UserStoreOptions
  ) {
    this.path = path;
    this.#users = users;
    this.#decoy = hashPassword(randomBytes(16).toString('hex'));
    this.#onRehashFailed = options.onRehashFailed;
    this.#now = options.now ?? Date.now;
  }

  /** scrypt checks run by {@link verify} so far. */
  get checks(): number {
    return this.#checks;
  }

  /**
   * Opens the users file of `dataDir`. When there is none, creates it
   * with one `full` user, `admin`, whose random password is written to
   * `admin-password` (mode 0600) and returned as `adminPassword`.
   */
  static async open(
    dataDir: string,
    options: UserStoreOptions = {}
  ): Promise<{ store: UserStore; adminPassword?: string }> {
    const path = join(dataDir, 'users.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      // No prototype: a user named `__proto__` is just a name.
      const store = new UserStore(path, Object.create(null), options);
      const adminPassword = randomBytes(18).toString('base64url');
      await store.add('admin', adminPassword, 'full');
      await writeFile(join(dataDir, 'admin-password'), adminPassword + '\n', {
        mode: 0o600
      });
      return { store, adminPassword };
    }
    return {
      store: new UserStore(path, parseUsers(text, path), options)
    };
  }

  /** Names and roles of every user. */
  list(): Array<{ name: string; role: Role }> {
    return Object.entries(this.#users).map(([name, user]) => ({
      name,
      role: user.role
    }));
  }

  /**
   * The user's role if the password is right, otherwise null. A right
   * password for a hash made with earlier parameters re-hashes it.
   */
  async verify(name: string, password: string): Promise<Role | null> {
    const user = Object.hasOwn(this.#users, name) ? this.#users[name] : null;
    if (user && this.#passedRecently(name, user, password)) return user.role;
    this.#checks++;
    const decoy = await this.#decoy;
    const hash = user ? user.password : decoy;
    const checks = [checkPassword(password, hash)];
    // Earlier parameters cost less: check the decoy alongside, so that a
    // wrong password for such a user takes no less time than for a name
    // that does not exist.
    if (needsRehash(hash)) checks.push(checkPassword(password, decoy));
    const [ok] = await Promise.all(checks);
    if (!ok || !user) return null;
    if (needsRehash(hash)) await this.#rehash(name, user, password);
    this.#verified.set(name, {
      digest: this.#digest(password),
      hash: user.password,
      until: this.#now() + VERIFIED_TTL_MS
    });
    return user.role;
  }

  /**
   * True when `password` passed the check for `user` within the last
   * {@link VERIFIED_TTL_MS} and the user's hash has not changed since.
   * Only a right password is remembered, so a wrong one always costs a
   * full check.
   */
  #passedRecently(name: string, user: UserRecord, password: string): boolean {
    const entry = this.#verified.get(name);
    if (!entry) return false;
    if (entry.hash !== user.password || entry.until <= this.#now()) {
      this.#verified.delete(name);
      return false;
    }
    return timingSafeEqual(entry.digest, this.#digest(password));
  }

  #digest(password: string): Buffer {
    return createHmac('sha256', this.#verifiedKey).update(password).digest();
  }

  /** Adds a user or replaces an existing one's password and role. */
  async add(name: string, password: string, role: Role): Promise<void> {
    if (!userNamePattern.test(name)) {
      throw new Error(
        `bad user name '${name}': use 1 to 64 letters, digits, '.', '_' or '-'`
      );
    }
    if (!roles.includes(role)) {
      throw new Error(`bad role '${role}': use full or read`);
    }
    if (password.length === 0) throw new Error('the password is empty');
    this.#users[name] = { role, password: await hashPassword(password) };
    await this.#save(this.#users);
  }

  /**
   * Replaces `user`'s hash with one of the current parameters, in the
   * file as it is now (`user add` may have changed it since start), one
   * re-hash at a time.
   */
  async #rehash(name: string, user: UserRecord, password: string) {
    const old = user.password;
    const hash = await hashPassword(password);
    const saved = this.#rehashing.then(async () => {
      const users = parseUsers(await readFile(this.path, 'utf8'), this.path);
      if (!Object.hasOwn(users, name) || users[name].password !== old) return;
      users[name].password = hash;
      await this.#save(users);
      if (user.password === old) user.password = hash;
    });
    this.#rehashing = saved.catch((error: Error) => {
      this.#onRehashFailed?.(name, error);
    });
    await this.#rehashing;
  }

  async #save(users: Record<string, UserRecord>): Promise<void> {
    const file: UsersFile = { users };
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(file, null, 2) + '\n', {
      mode: 0o600
    });
    await rename(temporary, this.path);
  }
}

function parseUsers(text: string, path: string): Record<string, UserRecord> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const users = (parsed as Partial<UsersFile> | null)?.users;
  if (!users || typeof users !== 'object') {
    throw new Error(`${path} has no "users" object`);
  }
  const result: Record<string, UserRecord> = Object.create(null);
  for (const [name, user] of Object.entries(users)) {
    if (!roles.includes(user?.role) || typeof user?.password !== 'string') {
      throw new Error(`${path}: user '${name}' needs a role and a password`);
    }
    result[name] = { role: user.role, password: user.password };
  }
  return result;
}
