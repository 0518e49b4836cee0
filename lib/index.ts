/**
 * The dispatcher as a library: start a server in-process with the same
 * settings as `dispatcher serve`, and drive one (in-process or remote)
 * with the typed client.
 *
 *   import { startDispatcher, Client } from 'dispatcher';
 *
 *   const server = await startDispatcher({ dataDir: '/var/lib/jobs' });
 *   const client = await Client.connect(server.wsUrl,
 *     { user: 'admin', password: server.adminPassword! });
 *   await client.dispatcher({ action: 'run', hello: 'echo hello' });
 *   await server.stop();
 */
import { defaults, type ServerConfig } from './config.js';
import { DispatcherServer, type ServerOptions } from './server.js';

export { Client, ClientError } from './client/client.js';
export type { Credentials, Message } from './client/client.js';
export { defaults, withQueue } from './config.js';
export type { ServerConfig } from './config.js';
export { DispatcherServer } from './server.js';
export type { ServerOptions } from './server.js';

/** A started server and where to reach it. */
export interface RunningDispatcher {
  server: DispatcherServer;
  /** `ws://` or `wss://` address of the WebSocket listener. */
  wsUrl: string;
  /** `http://` or `https://` address of the REST listener. */
  restUrl: string;
  /** Set when this start created the first user, `admin`. */
  adminPassword: string | undefined;
  /** Stops it as SIGTERM would: see `DispatcherServer.stop`. */
  stop(): Promise<void>;
}

/**
 * Starts a server with `defaults` overridden by `settings`. Resolves once
 * both ports listen; rejects (having undone everything) when it cannot.
 */
export async function startDispatcher(
  settings: Partial<ServerConfig> = {},
  options: ServerOptions = {}
): Promise<RunningDispatcher> {
  const config: ServerConfig = { ...defaults, ...settings };
  const server = new DispatcherServer(config, options);
  await server.start();
  const secure = config.tlsCert !== null;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    server,
    wsUrl: `${secure ? 'wss' : 'ws'}://${host}:${server.wsPort}`,
    restUrl: `${secure ? 'https' : 'http'}://${host}:${server.restPort}`,
    adminPassword: server.adminPassword,
    stop: () => server.stop()
  };
}
