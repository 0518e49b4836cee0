/**
 * The Origin and Host rules on their own, header by header.
 */
import { hostname } from 'node:os';

import { expect } from 'chai';

import { OriginPolicy } from '../../lib/security/origin.js';

function verdict(policy: OriginPolicy, headers: Record<string, string>) {
  try {
    return policy.check(headers) ?? 'no origin';
  } catch (error) {
    return (error as { error: string }).error;
  }
}

describe('origin policy', function () {
  const policy = new OriginPolicy({
    host: '127.0.0.1',
    allowedOrigins: ['https://Ops.Example.org:443/'],
    allowedHosts: ['dispatcher.example.org']
  });

  it('takes requests without Origin, as non-browser clients send them',
    function () {
      expect(verdict(policy, { host: '127.0.0.1:12151' }))
        .to.equal('no origin');
      expect(verdict(policy, {})).to.equal('no origin');
    });

  it('matches allowed origins without regard to case or default port',
    function () {
      expect(verdict(policy, { origin: 'https://ops.example.org' }))
        .to.equal('https://ops.example.org');
      for (const origin of ['http://ops.example.org',
        'https://ops.example.org:8443', 'https://evil.ops.example.org',
        'null', 'file://', 'not a url']) {
        expect(verdict(policy, { origin }), origin).to.equal('foreign_origin');
      }
    });

  it('refuses cross-site browser requests that leave out Origin',
    function () {
      expect(verdict(policy, { 'sec-fetch-site': 'cross-site' }))
        .to.equal('foreign_origin');
      expect(verdict(policy, { 'sec-fetch-site': 'same-origin' }))
        .to.equal('no origin');
      expect(verdict(policy, { 'sec-fetch-site': 'none' }))
        .to.equal('no origin');
    });

  it('answers only to its own names', function () {
    for (const host of ['localhost', 'LOCALHOST:1', '127.0.0.1', '[::1]:80',
      hostname(), 'dispatcher.example.org:12150']) {
      expect(verdict(policy, { host }), host).to.equal('no origin');
    }
    for (const host of ['evil.example', '127.0.0.1.nip.io', '10.0.0.1',
      'localhost.evil.example', '[::2]']) {
      expect(verdict(policy, { host }), host).to.equal('foreign_host');
    }
  });

  it('answers to every local address when listening on all of them',
    function () {
      const wildcard = new OriginPolicy({
        host: '0.0.0.0', allowedOrigins: [], allowedHosts: []
      });
      expect(verdict(wildcard, { host: '127.0.0.1' })).to.equal('no origin');
      expect(verdict(wildcard, { host: '0.0.0.0' })).to.equal('foreign_host');
    });
});
