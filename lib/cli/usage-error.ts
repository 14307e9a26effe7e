/** Usage errors of the `crossencoder` command, and how any error is reported (one line, an exit status). */
import { AbortError, CrossEncoderError } from '../errors.js';

export const PROGRAM = 'crossencoder';

/** A command line that does not make sense: exit status 2, with a pointer to `--help`. */
export class UsageError extends Error {
  /** The command whose help explains the mistake, if any. */
  readonly command?: string;

  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** The one line printed for an error, and the exit status (130, as a shell reports Ctrl-C, for an interrupted run). */
export function describeError(error: unknown): { message: string; exitCode: 1 | 2 | 130 } {
  const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
  if (error instanceof UsageError) {
    const help = error.command ? `${PROGRAM} ${error.command} --help` : `${PROGRAM} --help`;
    return { message: `${oneLine(error.message)} (see '${help}')`, exitCode: 2 };
  }
  if (error instanceof AbortError) return { message: oneLine(error.message), exitCode: 130 };
  if (error instanceof CrossEncoderError) return { message: oneLine(error.message), exitCode: 1 };
  // Not one of ours: a bug or an unexpected system failure; the stack is what a report needs.
  const text = error instanceof Error ? error.message : String(error);
  return { message: `${oneLine(text)} (set CROSSENCODER_DEBUG=1 for the stack trace)`, exitCode: 1 };
}
