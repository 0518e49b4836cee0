/**
 * TLS for both listeners, and the rule that keeps passwords and tokens
 * off the network in the clear: without a certificate the server listens
 * only on loopback, unless the operator says otherwise in so many words.
 */
import { readFile } from 'node:fs/promises';

import { isLoopback } from './address.js';

/** A certificate chain and its private key, PEM. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export interface ExposureSettings {
  host: string;
  tlsCert: string | null;
  tlsKey: string | null;
  allowPlaintextNetwork: boolean;
}

/** The flag that allows plain text on the network, named for the docs. */
export const PLAINTEXT_FLAG = '--insecure-plaintext-on-network';

/**
 * Reads the certificate and key, and refuses a non-loopback address
 * without them unless plain text was explicitly allowed.
 *
 * @returns the PEM files, or null to serve plain ws:// and http://
 * @throws {Error} naming the flag to fix, when the settings are unsafe
 *   or a file cannot be read
 */
export async function loadTls(
  settings: ExposureSettings
): Promise<TlsFiles | null> {
  const { tlsCert, tlsKey, host } = settings;
  if ((tlsCert === null) !== (tlsKey === null)) {
    throw new Error('--tls-cert and --tls-key go together: give both');
  }
  if (tlsCert !== null && tlsKey !== null) {
    const [cert, key] = await Promise.all([
      readFile(tlsCert),
      readFile(tlsKey)
    ]);
    return { cert, key };
  }
  if (!isLoopback(host) && !settings.allowPlaintextNetwork) {
    throw new Error(
      `refusing to listen on ${host} without TLS: passwords and tokens ` +
        'would cross the network in the clear. Give --tls-cert and ' +
        `--tls-key (see docs/security.md), or pass ${PLAINTEXT_FLAG} ` +
        'if something else encrypts the traffic'
    );
  }
  return null;
}
