/**
 * Session tokens: random enough, matched exactly, and ended by idleness,
 * by age or by revocation.
 */
import { expect } from 'chai';

import { tokenKey, TokenStore } from '../../lib/auth/tokens.js';

describe('token store', function () {
  const session = { user: 'admin', role: 'full' as const };

  it('issues 256 random bits per token, never the same twice', function () {
    const store = new TokenStore(60000);
    const tokens = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const { token } = store.issue(session);
      expect(Buffer.from(token, 'base64url')).to.have.length(32);
      tokens.add(token);
    }
    expect(tokens.size).to.equal(1000);
  });

  it('keys tokens by a digest, not by the token', function () {
    const store = new TokenStore(60000);
    const { token } = store.issue(session);
    const key = tokenKey(token);
    expect(key).to.not.include(token);
    expect(store.resolveKey(key)).to.deep.equal(session);
    expect(store.resolveKey(token)).to.equal(null);
  });

  it('matches only the exact token', function () {
    const store = new TokenStore(60000);
    const { token } = store.issue(session);
    for (const near of [token.slice(0, -1), `${token}=`, ` ${token}`,
      `${token}\n`, token.toUpperCase(), token.toLowerCase(), '']) {
      expect(store.resolve(near), JSON.stringify(near)).to.equal(null);
    }
    expect(store.resolve(token)).to.deep.equal(session);
  });

  it('ends a token left unused for the idle time', function () {
    let now = 0;
    const store = new TokenStore(1000, Infinity, () => now);
    const { token } = store.issue(session);
    now = 999;
    expect(store.resolve(token)).to.deep.equal(session);
    now = 1998;
    expect(store.resolve(token)).to.deep.equal(session);
    now = 2998;
    expect(store.resolve(token)).to.equal(null);
  });

  it('ends a token at its whole life however much it is used',
    function () {
      let now = 0;
      const store = new TokenStore(1000, 2500, () => now);
      const { token, seconds } = store.issue(session);
      expect(seconds).to.equal(1);
      for (now = 500; now < 2500; now += 500) {
        expect(store.resolve(token), `at ${now} ms`).to.deep.equal(session);
      }
      now = 1600;
      expect(store.secondsLeft(tokenKey(token))).to.equal(1);
      now = 2500;
      expect(store.resolve(token)).to.equal(null);
      expect(store.size).to.equal(0);
    });

  it('forgets a revoked token at once', function () {
    const store = new TokenStore(60000);
    const { token } = store.issue(session);
    const other = store.issue(session).token;
    store.revoke(token);
    expect(store.resolve(token)).to.equal(null);
    expect(store.resolve(other)).to.deep.equal(session);
  });
});
