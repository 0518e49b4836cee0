/**
 * `npm run docs:diagrams`: rewrites the diagrams of docs/machines.md
 * (between `<!-- diagram:NAME -->` and `<!-- /diagram -->`) from the
 * machine definitions. A spec fails when the page is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { describeMachines } from './machines.js';
import { toMermaid } from './mermaid.js';

/** The page with every diagram block regenerated. */
export function withDiagrams(page: string): string {
  let result = page;
  for (const machine of describeMachines()) {
    const start = `<!-- diagram:${machine.name} -->`;
    const end = '<!-- /diagram -->';
    const from = result.indexOf(start);
    if (from < 0) continue;
    const to = result.indexOf(end, from);
    const block = `${start}\n\`\`\`mermaid\n${toMermaid(machine)}\n\`\`\`\n`;
    result = result.slice(0, from) + block + result.slice(to);
  }
  return result;
}

/** Rewrites the page in place. */
export function writeDiagrams(path: string): void {
  writeFileSync(path, withDiagrams(readFileSync(path, 'utf8')));
}
