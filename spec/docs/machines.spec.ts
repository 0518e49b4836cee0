import { readFileSync } from 'node:fs';

import { expect } from 'chai';

import { withDiagrams } from '../../lib/debug/write-diagrams.js';

const page = new URL('../../../docs/machines.md', import.meta.url);

describe('docs/machines.md', function () {
  it('shows the diagrams the machine definitions give today', function () {
    const text = readFileSync(page, 'utf8');
    for (const name of ['supervisor', 'queue', 'job']) {
      expect(text).to.include(`<!-- diagram:${name} -->`);
    }
    expect(withDiagrams(text), 'run npm run docs:diagrams').to.equal(text);
  });
});
