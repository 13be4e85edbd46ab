import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { readmeCode, type ReadmeLine } from '../helpers/readme.js';

/**
 * The README's commands exist (issue 20, item 15): every `aetl` command line
 * in its code blocks parses with the real CLI's command tree (actions made
 * no-ops), and every inline `aetl ...` mention names a real command and real
 * options. Placeholders (`RUN_ID`, `<ID>`, `$RUN_ID`) stand for any value.
 */

/** The CLI's command tree, silent, throwing instead of exiting, taking any value, running nothing. */
function dryProgram(): Command {
  const program = buildProgram();
  const quiet = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    // A placeholder is a fine value here: what is checked is that the command and its options exist.
    for (const option of command.options) option.parseArg = undefined;
    for (const argument of command.registeredArguments) argument.parseArg = undefined;
    if (command.commands.length === 0) command.action(() => undefined);
    command.commands.forEach(quiet);
  };
  quiet(program);
  return program;
}

const OPERATORS = new Set(['&&', '||', '|', ';']);

/**
 * A shell line as its commands' words: quotes and backslashes as the shell
 * reads them, `#` comments and redirections (`>> file`, `2>&1`) dropped, and
 * `&&`, `||`, `|` and `;` ending a command.
 */
function shellCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | null = null;
  let quote: string | null = null;
  let skipNext = false;
  const end = () => {
    if (word !== null && !skipNext) commands.at(-1)!.push(word);
    else if (word !== null) skipNext = false;
    word = null;
  };
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote !== null) {
      if (char === quote) quote = null;
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      word ??= '';
    } else if (char === '\\') word = (word ?? '') + (line[++i] ?? '');
    else if (/\s/.test(char)) end();
    else if (char === '#' && word === null) break;
    else if (char === '>' || char === '<') {
      if (word !== null && /^\d$/.test(word)) word = null; // the `2` of `2>`
      end();
      while (line[i + 1] === '>') i++;
      const dup = /^&\d/.exec(line.slice(i + 1));
      if (dup) i += dup[0].length;
      else skipNext = true; // the file
    } else if (OPERATORS.has(line.slice(i, i + 2)) || OPERATORS.has(char)) {
      end();
      if (OPERATORS.has(line.slice(i, i + 2))) i++;
      commands.push([]);
    } else word = (word ?? '') + char;
  }
  end();
  return commands.filter((words) => words.length > 0);
}

/** The arguments after `aetl` when a command runs it: `aetl ...`, `npx [opts] aetl ...`, `npm run aetl -- ...`. */
function aetlArgs(words: string[]): string[] | null {
  const command = words.slice(words.findIndex((w) => !/^[A-Z_][A-Z0-9_]*=/.test(w))); // after VAR=value
  if (command[0] === 'aetl') return command.slice(1);
  if (command[0] === 'npx' && command.includes('aetl')) return command.slice(command.indexOf('aetl') + 1);
  if (command.slice(0, 4).join(' ') === 'npm run aetl --') return command.slice(4);
  return null;
}

/** Code-block lines (a trailing `\` continues one, a `$ ` prompt is dropped) with the aetl commands they run. */
function invocations(lines: ReadmeLine[]): (ReadmeLine & { args: string[] })[] {
  const joined: ReadmeLine[] = [];
  for (const { line, text } of lines) {
    const previous = joined.at(-1);
    if (previous?.text.endsWith('\\') && previous.line + 1 === line) {
      previous.text = `${previous.text.slice(0, -1)} ${text.trim()}`;
    } else joined.push({ line, text: text.trim().replace(/^\$ /, '') });
  }
  return joined.flatMap((l) =>
    shellCommands(l.text).flatMap((words) => {
      const args = aetlArgs(words);
      return args === null ? [] : [{ ...l, args }];
    }),
  );
}

/** What a command line's parse says is wrong with it, or null. */
function parseError(args: string[]): string | null {
  try {
    dryProgram().parse(args, { from: 'user' });
    return null;
  } catch (error) {
    const exitCode = (error as { exitCode?: number }).exitCode;
    return exitCode === 0 ? null : (error as Error).message; // --help and --version end with exit 0
  }
}

const isPlaceholder = (word: string) => /^(<.+>|[A-Z][A-Z0-9_]*|\$.+|NAME\|FILE)$/.test(word);

/**
 * What is wrong with an inline mention (`aetl rejects list [--run ID] [--limit N]`,
 * `aetl state show \| set-checkpoint T \| reset`, a fragment like `aetl retention --archive`):
 * its leading words must name a command, and every option must be one of that command or a global one.
 */
function mentionError(program: Command, span: string): string | null {
  const text = span
    .replace(/\\\|/g, ' ') // a table's `\|`: alternatives
    .replace(/ \| .*$/, '') // a real pipe: what follows is another program
    .replace(/\[|\]|\.\.\.|…/g, ' ');
  const words = aetlArgs(shellCommands(text)[0] ?? []);
  if (words === null) return null;
  let command = program;
  let i = 0;
  for (let sub; (sub = command.commands.find((c) => c.name() === words[i])); i++) command = sub;
  const next = words[i];
  if (command.commands.length > 0 && next !== undefined && !next.startsWith('-') && !isPlaceholder(next)) {
    return `no command "${next}" in "aetl ${command === program ? '' : `${command.name()} `}..."`;
  }
  const known = new Set(['--help', '-h']);
  for (let at: Command | null = command; at !== null; at = at.parent) {
    for (const option of at.options) for (const flag of [option.long, option.short]) if (flag) known.add(flag);
  }
  const unknown = words.slice(i).filter((word) => word.startsWith('-') && !known.has(word.split('=')[0]!));
  return unknown.length === 0 ? null : `no option ${unknown.join(', ')} for "aetl ${command.name()}"`;
}

describe('the README’s commands', () => {
  const { blockLines, spans } = readmeCode();
  const program = dryProgram();

  it('every aetl command line in a code block parses with the CLI (commands, options, required ones)', () => {
    const lines = invocations(blockLines);
    expect(lines.length).toBeGreaterThanOrEqual(8); // the samples and the query examples
    const wrong = lines.flatMap(({ line, text, args }) => {
      const error = parseError(args);
      return error === null ? [] : [`README.md:${line}: ${text}\n  ${error}`];
    });
    expect(wrong.join('\n')).toBe('');
  });

  it('every inline aetl mention names a real command and real options', () => {
    const mentions = spans.filter((s) => aetlArgs(shellCommands(s.text)[0] ?? []) !== null);
    expect(mentions.length).toBeGreaterThanOrEqual(60);
    const wrong = mentions.flatMap(({ line, text }) => {
      const error = mentionError(program, text);
      return error === null ? [] : [`README.md:${line}: \`${text}\`\n  ${error}`];
    });
    expect(wrong.join('\n')).toBe('');
  });

  it('reads shell lines as the shell does', () => {
    expect(shellCommands('*/15 * * * *  cd /opt/aetl && npx aetl run --skip-if-locked >> /var/log/r.log 2>&1')).toEqual(
      [
        ['*/15', '*', '*', '*', '*', 'cd', '/opt/aetl'],
        ['npx', 'aetl', 'run', '--skip-if-locked'],
      ],
    );
    expect(shellCommands(`aetl accept-loss --reason "vendor outage" --from 'a b' | jq . # note`)).toEqual([
      ['aetl', 'accept-loss', '--reason', 'vendor outage', '--from', 'a b'],
      ['jq', '.'],
    ]);
  });

  it('catches an unknown command, an unknown option and a missing required option', () => {
    expect(parseError(['rejects', 'list', '--run', '$RUN_ID'])).toBeNull();
    expect(parseError(['rejects', 'lst'])).toMatch(/unknown command 'lst'/);
    expect(parseError(['status', '--runs', 'N', '--no-such-option'])).toMatch(/unknown option '--no-such-option'/);
    expect(parseError(['backfill', '--from', 'D'])).toMatch(/required option '--to <instant>' not specified/);
    expect(mentionError(program, 'aetl state show \\| set-checkpoint T \\| reset')).toBeNull();
    expect(mentionError(program, 'aetl retention --archives')).toBe('no option --archives for "aetl retention"');
    expect(mentionError(program, 'aetl rejects lst')).toBe('no command "lst" in "aetl rejects ..."');
  });
});
