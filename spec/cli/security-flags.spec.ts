/**
 * The `serve` flags for security and limits map onto the settings, in
 * the settings' units, and refuse values that make no sense.
 */
import { expect } from 'chai';

import { securityConfig } from '../../lib/cli/security-flags.js';
import { defaults } from '../../lib/config.js';

describe('security flags of serve', function () {
  it('leaves every setting at its default when no flag is given',
    function () {
      const settings = securityConfig({});
      for (const [key, value] of Object.entries(settings)) {
        expect(value, key).to.deep.equal(
          defaults[key as keyof typeof defaults]);
      }
    });

  it('takes seconds for periods and keeps them as milliseconds',
    function () {
      const settings = securityConfig({
        lockout: '60', tokenMaxLife: '3600', loginDeadline: '10',
        maxMessage: '2048', maxQueueJobs: '5'
      });
      expect(settings).to.include({
        lockoutMs: 60000,
        tokenMaxLifeMs: 3600000,
        loginDeadlineMs: 10000,
        maxMessageBytes: 2048,
        maxLiveJobsPerQueue: 5
      });
    });

  it('collects origins, host names, users per queue and job variables',
    function () {
      const settings = securityConfig({
        allowOrigin: ['https://ops.example.org'],
        allowHost: ['dispatcher.lan'],
        runAs: 'builder',
        queueRunAs: ['pkg_queue=root'],
        jobEnv: ['LC_ALL=C', 'http_proxy'],
        insecurePlaintextOnNetwork: true
      });
      expect(settings).to.deep.include({
        allowedOrigins: ['https://ops.example.org'],
        allowedHosts: ['dispatcher.lan'],
        runAs: 'builder',
        jobEnv: ['LC_ALL=C', 'http_proxy'],
        allowPlaintextNetwork: true
      });
      expect({ ...settings.queueRunAs }).to.deep.equal({ pkg_queue: 'root' });
    });

  it('refuses values that are not whole numbers in range', function () {
    expect(() => securityConfig({ loginFailures: '0' }))
      .to.throw('--login-failures must be a whole number of at least 1');
    expect(() => securityConfig({ maxBody: '1e3' })).to.throw(/--max-body/);
    expect(() => securityConfig({ heartbeat: 'soon' }))
      .to.throw(/--heartbeat/);
    expect(() => securityConfig({ queueRunAs: ['pkg_queue'] }))
      .to.throw(/expected QUEUE=USER/);
  });
});
