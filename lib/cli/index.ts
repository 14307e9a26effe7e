#!/usr/bin/env node
/**
 * The `crossencoder` command: score, rank, evaluate, train and download CrossEncoder models from
 * the shell. The CLI only parses arguments, reads and writes files and formats output (one file
 * per command in commands/); the work is done by the library API.
 *
 * Exit status: 0 on success, 1 on a runtime error (bad data, missing model, libtorch failure),
 * 2 on a usage error (unknown command or option, missing or malformed value). Errors are one
 * `crossencoder: <message>` line on stderr; `CROSSENCODER_DEBUG=1` adds the stack trace.
 * @packageDocumentation
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { packageVersion } from '../package-version.js';
import { suggest } from '../suggest.js';

import { COMMANDS } from './commands/index.js';
import { commandHelp, mainHelp, wantsHelp } from './help.js';
import { writeOut } from './output.js';
import { describeError, PROGRAM, UsageError } from './usage-error.js';

/**
 * Runs the command line `argv` (without `node` and the script) and returns the exit status.
 * Output goes to stdout, errors to stderr.
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await run(argv);
    return 0;
  } catch (error) {
    const { message, exitCode } = describeError(error);
    process.stderr.write(`${PROGRAM}: ${message}\n`);
    if (process.env.CROSSENCODER_DEBUG === '1' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return exitCode;
  }
}

async function run(argv: readonly string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given; commands: ' + Object.keys(COMMANDS).join(', '));
  if (first === '--help' || first === '-h') return writeOut(mainHelp());
  if (first === '--version' || first === '-v') return writeOut(`${packageVersion()}\n`);
  if (first === 'help') {
    if (rest[0] === undefined) return writeOut(mainHelp());
    return writeOut(commandHelp(commandName(rest[0])));
  }
  const name = commandName(first);
  if (wantsHelp(rest)) return writeOut(commandHelp(name));
  await COMMANDS[name].execute(rest);
}

function commandName(word: string): string {
  if (Object.hasOwn(COMMANDS, word)) return word;
  const names = Object.keys(COMMANDS);
  if (word.startsWith('-')) throw new UsageError(`unknown option '${word}'; options go after the command`);
  const guess = suggest(word, names);
  throw new UsageError(`unknown command '${word}'${guess ? ` (did you mean '${guess}'?)` : ''}; commands: ${names.join(', ')}`);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // npm links bins through symlinks: compare real paths.
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A closed pipe (`crossencoder predict … | head`) is the reader saying it has enough.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  process.exitCode = await main(process.argv.slice(2));
}
