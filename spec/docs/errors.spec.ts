/**
 * Keeps docs/errors.md and the error catalogue in step: a new, renamed or
 * renumbered error fails here until its row in the docs says the same.
 */
import { readFileSync } from 'node:fs';

import { expect } from 'chai';

import { errorCatalogue } from '../../lib/rpc/errors.js';
import type { ErrorName } from '../../lib/rpc/errors.js';

/** One row of the catalogue table: the cells clients rely on. */
interface DocumentedError {
  name: string;
  code: number;
  message: string;
}

// Compiled to dist/spec/docs/, three levels below the repository root.
const page = new URL('../../../docs/errors.md', import.meta.url);

/**
 * The rows of the table whose header starts `| Name | Code | Message |`,
 * up to the first line that is not a table row.
 */
function documentedErrors(markdown: string): DocumentedError[] {
  const lines = markdown.split('\n');
  const header = lines.findIndex((line) =>
    /^\|\s*Name\s*\|\s*Code\s*\|\s*Message\s*\|/.test(line)
  );
  expect(header, 'catalogue table header in docs/errors.md')
    .to.be.greaterThan(-1);

  const rows: DocumentedError[] = [];
  // Skip the header and its |---| separator line.
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [name, code, message] = line.split('|').slice(1, 4)
      .map((cell) => cell.trim());
    rows.push({
      name: name.replace(/^`(.*)`$/, '$1'),
      code: Number(code),
      message
    });
  }
  return rows;
}

describe('docs/errors.md', function () {
  const rows = documentedErrors(readFileSync(page, 'utf8'));
  const names = Object.keys(errorCatalogue) as ErrorName[];

  it('lists every catalogue error with its code and message', function () {
    const wrong = names.flatMap((name) => {
      const row = rows.find((candidate) => candidate.name === name);
      const { code, message } = errorCatalogue[name];
      if (!row) return [`${name}: missing from the table`];
      if (row.code === code && row.message === message) return [];
      return [
        `${name}: table says ${row.code} ${row.message}, ` +
          `catalogue says ${code} ${message}`
      ];
    });
    expect(wrong).to.deep.equal([]);
  });

  it('names no error the catalogue lacks', function () {
    const extra = rows
      .map((row) => row.name)
      .filter((name) => !Object.hasOwn(errorCatalogue, name));
    expect(extra).to.deep.equal([]);
  });

  it('lists each error once', function () {
    const seen = rows.map((row) => row.name);
    const repeated = seen.filter((name, i) => seen.indexOf(name) !== i);
    expect(repeated).to.deep.equal([]);
  });
});
