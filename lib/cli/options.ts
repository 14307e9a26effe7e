/** Command-line options: one declarative spec per option drives parsing, type conversion and help. */
import { parseArgs } from 'node:util';

import { suggest } from '../suggest.js';

import { UsageError } from './usage-error.js';

export type ValueKind = 'string' | 'integer' | 'number' | 'boolean';

/** How one `--flag` is parsed and documented. */
export interface OptionSpec {
  readonly kind: ValueKind;
  readonly help: string;
  /** Placeholder shown in help, e.g. `<file>`. */
  readonly value?: string;
  readonly short?: string;
  /** Accepted values of a string option. */
  readonly choices?: readonly string[];
  /** Smallest accepted value of a numeric option. */
  readonly min?: number;
  readonly required?: boolean;
  readonly default?: string | number | boolean;
  /** Also accept `--no-<flag>`, setting false (boolean options only). */
  readonly negatable?: boolean;
  /** Heading the option is listed under in help. */
  readonly group?: string;
}

/** Options of one command, keyed by long flag name (without `--`). */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<O extends OptionSpec> = O['kind'] extends 'integer' | 'number'
  ? number
  : O['kind'] extends 'boolean'
    ? boolean
    : O extends { choices: readonly (infer Choice)[] }
      ? Choice
      : string;

/** Parsed values: required and defaulted options are always set, the others may be undefined. */
export type ParsedOptions<S extends OptionSpecs> = {
  -readonly [N in keyof S]: ValueOf<S[N]> | (S[N] extends { required: true } | { default: unknown } ? never : undefined);
};

/** `learningRate` → `learning-rate`. */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** The flag as typed on the command line: `--model`. */
export function flag(name: string): string {
  return `--${name}`;
}

/** All long flags a command accepts, `--no-` forms included. */
function flagNames(specs: OptionSpecs): string[] {
  return Object.entries(specs).flatMap(([name, spec]) => (spec.negatable ? [name, `no-${name}`] : [name]));
}

/**
 * Parses a command's arguments against its option specs with `node:util` `parseArgs` (strict),
 * converts numbers, checks choices, ranges and required options, and fills defaults.
 * @throws {UsageError} naming the offending option.
 */
export function parseOptions<S extends OptionSpecs>(
  command: string,
  specs: S,
  argv: readonly string[],
  maxPositionals = 0,
): { values: ParsedOptions<S>; positionals: string[] } {
  const parsed = runParseArgs(command, specs, argv, maxPositionals);
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) {
    let value = convertValue(command, name, spec, parsed.values[name]);
    if (spec.negatable && parsed.values[`no-${name}`] === true) {
      if (value !== undefined) throw new UsageError(`${flag(name)} and ${flag(`no-${name}`)} contradict each other`, command);
      value = false;
    }
    if (value === undefined && spec.required) throw new UsageError(`missing ${flag(name)} ${spec.value ?? ''}: ${spec.help}`.trim(), command);
    values[name] = value ?? spec.default;
  }
  return { values: values as ParsedOptions<S>, positionals: parsed.positionals };
}

function runParseArgs(command: string, specs: OptionSpecs, argv: readonly string[], maxPositionals: number) {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.kind === 'boolean' ? 'boolean' : 'string', ...(spec.short ? { short: spec.short } : {}) };
    if (spec.negatable) options[`no-${name}`] = { type: 'boolean' };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw parseArgsUsageError(command, specs, error);
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals];
    throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`, command);
  }
  return parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] };
}

/** Turns `parseArgs`'s errors (multi-line, Node-flavoured) into one clear line. */
function parseArgsUsageError(command: string, specs: OptionSpecs, error: unknown): Error {
  const { code, message } = error as { code?: string; message: string };
  const quoted = /'(-[^' ]*)/.exec(message)?.[1];
  const longFlag = /--[\w-]+/.exec(message)?.[0];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) {
    const candidates = flagNames(specs);
    const guess = quoted.startsWith('--') ? suggest(quoted.slice(2), candidates) : undefined;
    return new UsageError(`unknown option '${quoted}'${guess ? ` (did you mean '${flag(guess)}'?)` : ''}`, command);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && longFlag) {
    if (/does not take an argument/.test(message)) return new UsageError(`option '${longFlag}' takes no value`, command);
    if (/argument missing|ambiguous/.test(message)) {
      const spec = specs[longFlag.slice(2)];
      const placeholder = spec?.value ? ` ${spec.value}` : '';
      const dash = /ambiguous/.test(message) ? ` (a value starting with '-' is written ${longFlag}=-…)` : '';
      return new UsageError(`option '${longFlag}' needs a value${placeholder ? `:${placeholder}` : ''}${dash}`, command);
    }
  }
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return new UsageError(message.split('\n')[0], command);
  return error as Error;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function convertValue(command: string, name: string, spec: OptionSpec, raw: string | boolean | undefined) {
  if (raw === undefined || typeof raw === 'boolean') return raw;
  if (spec.kind === 'string') {
    if (spec.choices && !spec.choices.includes(raw)) {
      throw new UsageError(`${flag(name)} must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(raw)}`, command);
    }
    return raw;
  }
  const number = DECIMAL.test(raw.trim()) ? Number(raw) : NaN;
  const what = spec.kind === 'integer' ? 'an integer' : 'a number';
  if (!Number.isFinite(number) || (spec.kind === 'integer' && !Number.isInteger(number))) {
    throw new UsageError(`${flag(name)} must be ${what}${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}, got ${JSON.stringify(raw)}`, command);
  }
  if (spec.min !== undefined && number < spec.min) {
    throw new UsageError(`${flag(name)} must be ${what} ≥ ${spec.min}, got ${raw}`, command);
  }
  return number;
}
