/**
 * Where the client commands find the server and the login to use.
 *
 * Each setting comes from the first of: a flag, the environment, the
 * config file, and for the password of `admin` only, the admin password
 * file the server wrote in its data directory.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { Client, type Credentials } from '../client/client.js';

/** The flags every client command takes. */
export interface ClientFlags {
  url?: string;
  user?: string;
  password?: string;
  dataDir?: string;
  json?: boolean;
}

/** What the config file may hold; every key is optional. */
export interface ConfigFile {
  url?: string;
  user?: string;
  password?: string;
  /** A file whose first line is the password, read when it is needed. */
  password_file?: string;
}

/** The address used when nothing else gives one. */
export const defaultUrl = 'ws://127.0.0.1:12150';

/**
 * Path of the client's config file: `$XDG_CONFIG_HOME/dispatcher/
 * config.json`, or `~/.config/dispatcher/config.json` without it.
 */
export function configPath(env = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'dispatcher', 'config.json');
}

/**
 * Reads the config file. A missing file is an empty config; a file that
 * is not a JSON object, or has a key of the wrong type, is an error
 * naming the file, since guessing around it would log in as someone else.
 */
export function readConfigFile(path = configPath()): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${path} must hold a JSON object`);
  }
  const config = value as Record<string, unknown>;
  for (const key of ['url', 'user', 'password', 'password_file']) {
    if (config[key] !== undefined && typeof config[key] !== 'string') {
      throw new Error(`${path}: '${key}' must be a string`);
    }
  }
  return config as ConfigFile;
}

/**
 * Server address and credentials: flags, then the environment
 * (DISPATCHER_URL, DISPATCHER_USER, DISPATCHER_PASSWORD), then the config
 * file, then for `admin` the admin password file of the data directory
 * (--data-dir, DISPATCHER_DATA_DIR, default ./data).
 */
export function resolveConnection(flags: ClientFlags): {
  url: string;
  credentials: Credentials;
} {
  const env = process.env;
  const file = readConfigFile(configPath(env));
  const url = flags.url ?? env.DISPATCHER_URL ?? file.url ?? defaultUrl;
  const user = flags.user ?? env.DISPATCHER_USER ?? file.user ?? 'admin';
  const password = flags.password ?? env.DISPATCHER_PASSWORD ??
    file.password ?? passwordFromFile(file.password_file) ??
    adminPassword(user, flags.dataDir ?? env.DISPATCHER_DATA_DIR ?? 'data');
  return { url, credentials: { user, password } };
}

/** Connects and logs in with the resolved address and credentials. */
export async function connect(flags: ClientFlags): Promise<Client> {
  const { url, credentials } = resolveConnection(flags);
  return Client.connect(url, credentials);
}

function passwordFromFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8').split(/\r?\n/)[0];
  } catch (error) {
    throw new Error(`cannot read password_file ${path} named in ` +
      `${configPath()}: ${(error as Error).message}`);
  }
}

function adminPassword(user: string, dataDir: string): string {
  const file = join(dataDir, 'admin-password');
  if (user === 'admin') {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      // Reported below with what to do instead.
    }
  }
  throw new Error(
    `no password for user '${user}': pass --password, set ` +
      `DISPATCHER_PASSWORD, put "password" or "password_file" in ` +
      `${configPath()}, or run where ${file} is readable`
  );
}
