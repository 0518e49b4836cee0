// Mocha's spec reporter, closing with one plain summary line
// ("N passed, N failed, N skipped") that any CI log reader understands.
'use strict';

const { Spec } = require('mocha').reporters;
const { EVENT_RUN_END } = require('mocha').Runner.constants;

class SpecWithSummary extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats;
      console.log(`${passes} passed, ${failures} failed, ${pending} skipped`);
    });
  }
}

module.exports = SpecWithSummary;
