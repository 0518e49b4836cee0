/**
 * Client addresses as the security checks count them.
 */
import { isIPv6 } from 'node:net';

/**
 * The key under which failed logins and connections of an address are
 * counted. An IPv4 address mapped into IPv6 counts as the IPv4 address.
 * An IPv6 address counts as its /64 network: one host usually holds a
 * whole /64 and could otherwise step through its addresses to escape a
 * lockout or a connection limit.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, without leading zeros. */
function expandIPv6(address: string): string[] {
  const bare = address.split('%')[0];
  const [head, tail] = bare.split('::');
  const front = head ? head.split(':') : [];
  const back = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = 8 - front.length - back.length;
  const groups = [...front, ...Array(Math.max(0, missing)).fill('0'), ...back];
  return groups.map((group) => (parseInt(group, 16) || 0).toString(16));
}

/** Whether `host` (a listen address or name) reaches only this machine. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  if (/^::ffff:127\./.test(bare)) return true;
  return /^127\.\d+\.\d+\.\d+$/.test(bare);
}
