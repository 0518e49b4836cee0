/**
 * Joins words into one command string that the server splits back into
 * the same words (see lib/process/command-line.ts).
 */
export function quoteCommand(words: string[]): string {
  return words.map(quoteWord).join(' ');
}

function quoteWord(word: string): string {
  if (word !== '' && !/[\s"'\\]/.test(word)) return word;
  return `"${word.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
