/**
 * Splitting a job's command string into a program and its arguments.
 *
 * Commands run without a shell, so this is deliberately small: words,
 * quotes and backslashes. Pipes, redirections, `&&`, `$VAR` and globs
 * stay literal text; a job that wants them runs `sh -c '...'`.
 */

/** Whitespace that separates words: the ASCII blanks a shell splits on. */
const BLANKS = new Set([' ', '\t', '\n', '\r', '\v', '\f']);

/**
 * Thrown by {@link splitCommand} for a command string that cannot be
 * split: an unbalanced quote, a trailing backslash, or nothing to run.
 * The message is meant for the user and names the whole command.
 */
export class CommandLineError extends Error {
  override name = 'CommandLineError';

  /** The command string that could not be split. */
  readonly command: string;

  /**
   * @param reason what is wrong, e.g. `unterminated double quote`
   * @param command the command string as given
   */
  constructor(reason: string, command: string) {
    super(`${reason} in command: ${command}`);
    this.command = command;
  }
}

/**
 * Splits a command string into program and arguments.
 *
 * - Runs of blanks (space, tab, newline, CR, VT, FF) separate words.
 * - Single and double quotes group text into one word and are removed;
 *   quoted and unquoted text join when they touch (`"a b"c` is `a bc`),
 *   and `''` is an empty argument.
 * - Inside double quotes a backslash escapes only `"` and `\`; any other
 *   backslash stays. Inside single quotes nothing is special.
 * - Outside quotes a backslash makes the next character literal.
 *
 * @param command the command string, e.g. `grep -r "two words" .`
 * @returns at least one word; the first is the program
 * @throws {CommandLineError} for an unterminated quote, a trailing
 *   backslash, a blank command or an empty program name
 */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word = '';
  // Separate from `word !== ''` so that `''` still yields an argument.
  let inWord = false;
  let quote: '"' | "'" | null = null;

  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;

    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
      continue;
    }

    if (quote === '"') {
      const next = command[i + 1];
      if (ch === '"') quote = null;
      else if (ch === '\\' && (next === '"' || next === '\\')) {
        word += next;
        i++;
      } else word += ch;
      continue;
    }

    if (ch === '\\') {
      if (i + 1 === command.length) {
        throw new CommandLineError('trailing backslash', command);
      }
      word += command[++i];
      inWord = true;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (BLANKS.has(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }

  if (quote !== null) {
    const kind = quote === '"' ? 'double' : 'single';
    throw new CommandLineError(`unterminated ${kind} quote`, command);
  }
  if (inWord) words.push(word);

  if (words.length === 0) throw new CommandLineError('nothing to run', command);
  if (words[0] === '') {
    throw new CommandLineError('empty program name', command);
  }
  return words;
}
