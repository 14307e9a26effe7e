/** A command of the CLI: its help texts, its option specs and its handler, tied by type. */
import { type OptionSpecs, type ParsedOptions, parseOptions } from './options.js';

export interface Command {
  summary: string;
  /** Arguments after `crossencoder <name>` in the usage line. */
  usage: string;
  description: string;
  options: OptionSpecs;
  execute(argv: readonly string[]): Promise<void>;
}

/** Ties a command's option specs to its handler, so the handler sees typed values. */
export function defineCommand<const S extends OptionSpecs>(
  name: string,
  command: Omit<Command, 'execute' | 'options'> & {
    options: S;
    maxPositionals?: number;
    run(values: ParsedOptions<S>, positionals: string[]): Promise<void>;
  },
): Command {
  return {
    summary: command.summary,
    usage: command.usage,
    description: command.description,
    options: command.options,
    async execute(argv) {
      const { values, positionals } = parseOptions(name, command.options, argv, command.maxPositionals ?? 0);
      await command.run(values, positionals);
    },
  };
}
