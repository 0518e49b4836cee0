import { expect } from 'chai';

import {
  CommandLineError,
  splitCommand,
} from '../../lib/process/command-line.js';

describe('splitCommand', () => {
  it('splits words on runs of spaces, tabs and newlines', () => {
    expect(splitCommand('  ls \t -l\n\n/tmp  ')).to.deep.equal([
      'ls', '-l', '/tmp',
    ]);
  });

  it('groups words in double and single quotes and removes the quotes', () => {
    expect(splitCommand(`grep "two words" 'and three more'`)).to.deep.equal([
      'grep', 'two words', 'and three more',
    ]);
  });

  it('joins a quoted part with the text touching it', () => {
    expect(splitCommand('echo "a b"c x\'y z\'"!"')).to.deep.equal([
      'echo', 'a bc', 'xy z!',
    ]);
  });

  it('keeps an empty quoted argument', () => {
    expect(splitCommand(`printf '' "" x`)).to.deep.equal([
      'printf', '', '', 'x',
    ]);
  });

  it('unescapes only " and \\ inside double quotes', () => {
    expect(splitCommand('echo "say \\"hi\\" \\\\ \\n \\$HOME"'))
      .to.deep.equal(['echo', 'say "hi" \\ \\n \\$HOME']);
  });

  it('keeps backslashes and double quotes literal inside single quotes', () => {
    expect(splitCommand(`echo 'a\\b "c"'`)).to.deep.equal([
      'echo', 'a\\b "c"',
    ]);
  });

  it('makes the next character literal after a backslash outside quotes',
    () => {
      expect(splitCommand('touch a\\ b \\"c\\\' d\\\\')).to.deep.equal([
        'touch', 'a b', '"c\'', 'd\\',
      ]);
    });

  it('treats pipes, redirections, variables and globs as plain text', () => {
    expect(splitCommand('cat *.log | grep $USER && echo ok > out'))
      .to.deep.equal([
        'cat', '*.log', '|', 'grep', '$USER', '&&', 'echo', 'ok', '>', 'out',
      ]);
  });

  it('throws CommandLineError naming an unterminated double quote', () => {
    expect(() => splitCommand('echo "open'))
      .to.throw(CommandLineError,
        'unterminated double quote in command: echo "open');
  });

  it('throws CommandLineError naming an unterminated single quote', () => {
    expect(() => splitCommand(`echo 'open "x"`))
      .to.throw(CommandLineError, 'unterminated single quote in command');
  });

  it('counts an escaped closing quote as no closing quote', () => {
    expect(() => splitCommand('echo "open\\"'))
      .to.throw(CommandLineError, 'unterminated double quote');
  });

  it('throws CommandLineError for an empty or blank command', () => {
    expect(() => splitCommand('')).to.throw(CommandLineError);
    expect(() => splitCommand(' \t\n ')).to.throw(CommandLineError,
      'nothing to run');
  });

  it('throws CommandLineError for a trailing backslash', () => {
    expect(() => splitCommand('echo a\\'))
      .to.throw(CommandLineError, 'trailing backslash');
  });

  it('throws CommandLineError for an empty program name', () => {
    expect(() => splitCommand(`'' -l`))
      .to.throw(CommandLineError, 'empty program name');
  });

  it('keeps the command on the error', () => {
    try {
      splitCommand(`x 'y`);
      expect.fail('splitCommand did not throw');
    } catch (err) {
      expect(err).to.be.instanceOf(CommandLineError);
      expect((err as CommandLineError).command).to.equal(`x 'y`);
    }
  });
});
