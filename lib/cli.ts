#!/usr/bin/env node
/**
 * The `crossencoder` command: score, rank, evaluate, train and download CrossEncoder models from
 * the shell. This file only parses arguments, reads and writes files and formats output; the
 * work is done by the library API.
 *
 * Exit status: 0 on success, 1 on a runtime error (bad data, missing model, libtorch failure),
 * 2 on a usage error (unknown command or option, missing or malformed value). Errors are one
 * `crossencoder: <message>` line on stderr; `CROSSENCODER_DEBUG=1` adds the stack trace.
 * @packageDocumentation
 */
import { once } from 'node:events';
import { readFileSync, realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { ACTIVATIONS } from './activation.js';
import { writeJsonAtomic } from './atomic-file.js';
import { CrossEncoder, DEFAULT_MODEL, type Pair } from './cross-encoder.js';
import { loadCsv, loadJsonl, type PairDataset } from './datasets.js';
import { CrossEncoderError, FileSystemError, InvalidArgumentError } from './errors.js';
import { CrossEncoderRerankingEvaluator, type RerankingSample } from './evaluation/index.js';
import { downloadModel } from './hub.js';
import { createProgress } from './progress.js';
import { train } from './trainer.js';
import {
  type CrossEncoderTrainingArguments,
  type IntervalStrategy,
  type LrSchedulerType,
  resolveTrainingArguments,
} from './training-arguments.js';

const PROGRAM = 'crossencoder';
/** Pairs `predict` reads before scoring them: bounds memory on huge inputs, keeps batches well sorted. */
const DEFAULT_CHUNK_SIZE = 1000;
const DEFAULT_BATCH_SIZE = 32;

// ---------------------------------------------------------------------------------------------
// Errors

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

/** The one line printed for an error, and the exit status. */
export function describeError(error: unknown): { message: string; exitCode: 1 | 2 } {
  const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
  if (error instanceof UsageError) {
    const help = error.command ? `${PROGRAM} ${error.command} --help` : `${PROGRAM} --help`;
    return { message: `${oneLine(error.message)} (see '${help}')`, exitCode: 2 };
  }
  if (error instanceof CrossEncoderError) return { message: oneLine(error.message), exitCode: 1 };
  // Not one of ours: a bug or an unexpected system failure; the stack is what a report needs.
  const text = error instanceof Error ? error.message : String(error);
  return { message: `${oneLine(text)} (set CROSSENCODER_DEBUG=1 for the stack trace)`, exitCode: 1 };
}

// ---------------------------------------------------------------------------------------------
// Options: one declarative spec per option drives parsing, type conversion and help

type ValueKind = 'string' | 'integer' | 'number' | 'boolean';

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

const MODEL_GROUP = 'Model options';

/** Options of every command that loads a model. */
const MODEL_OPTIONS = {
  model: {
    kind: 'string',
    short: 'm',
    value: '<path|id>',
    help: 'Model directory or Hugging Face hub id',
    default: DEFAULT_MODEL,
    group: MODEL_GROUP,
  },
  revision: { kind: 'string', value: '<rev>', help: 'Hub branch, tag or commit; default: main', group: MODEL_GROUP },
  'cache-dir': { kind: 'string', value: '<dir>', help: 'Hugging Face cache; default: HF_HUB_CACHE, else ~/.cache/huggingface/hub', group: MODEL_GROUP },
  'local-files-only': { kind: 'boolean', help: 'Never use the network, only the cache; also HF_HUB_OFFLINE=1', group: MODEL_GROUP },
} as const satisfies OptionSpecs;

const BATCH_SIZE_OPTION = {
  kind: 'integer',
  min: 1,
  value: '<n>',
  help: 'Pairs per forward pass',
  default: DEFAULT_BATCH_SIZE,
} as const satisfies OptionSpec;

const MAX_LENGTH_OPTION = {
  kind: 'integer',
  min: 3,
  value: '<n>',
  help: "Maximum tokens per pair; default: the model's",
} as const satisfies OptionSpec;

const ACTIVATION_OPTION = {
  kind: 'string',
  value: `<${ACTIVATIONS.join('|')}>`,
  choices: ACTIVATIONS,
  help: "Applied to the logits; default: the model's (sigmoid for one label)",
} as const satisfies OptionSpec;

/** `learningRate` → `learning-rate`. */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** The flag as typed on the command line: `--model`. */
function flag(name: string): string {
  return `--${name}`;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The closest of `candidates` to `input`, if close enough to be a plausible typo. */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const normalised = input.replace(/_/g, '-').toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(normalised.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(normalised, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
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

// ---------------------------------------------------------------------------------------------
// Training arguments as flags, generated from one table

type TrainingKey = Exclude<keyof CrossEncoderTrainingArguments, 'outputDir'>;

/** The flag kind a training argument's type calls for; a union of string literals needs its values. */
type TrainingKind<T> =
  NonNullable<T> extends boolean
    ? 'boolean'
    : NonNullable<T> extends number
      ? 'integer' | 'number'
      : string extends NonNullable<T>
        ? 'string'
        : readonly NonNullable<T>[];

const STRATEGIES: readonly IntervalStrategy[] = ['no', 'steps', 'epoch'];
const LR_SCHEDULERS: readonly LrSchedulerType[] = ['linear', 'constant', 'constant_with_warmup', 'cosine'];

/**
 * Every {@link CrossEncoderTrainingArguments} key but `outputDir` (which `--output` sets), with its
 * flag kind. The mapped type makes the compiler reject a missing, extra or mistyped entry, so the
 * flags follow the interface.
 */
const TRAINING_ARGUMENT_KINDS: { readonly [K in TrainingKey]-?: TrainingKind<CrossEncoderTrainingArguments[K]> } = {
  numTrainEpochs: 'number',
  maxSteps: 'integer',
  perDeviceTrainBatchSize: 'integer',
  perDeviceEvalBatchSize: 'integer',
  learningRate: 'number',
  weightDecay: 'number',
  adamBeta1: 'number',
  adamBeta2: 'number',
  adamEpsilon: 'number',
  lrSchedulerType: LR_SCHEDULERS,
  warmupSteps: 'integer',
  warmupRatio: 'number',
  maxGradNorm: 'number',
  gradientAccumulationSteps: 'integer',
  seed: 'integer',
  dataloaderDropLast: 'boolean',
  loggingSteps: 'integer',
  loggingFirstStep: 'boolean',
  saveStrategy: STRATEGIES,
  saveSteps: 'integer',
  saveTotalLimit: 'integer',
  disableTqdm: 'boolean',
  evalStrategy: STRATEGIES,
  evalSteps: 'integer',
  evalOnStart: 'boolean',
  loadBestModelAtEnd: 'boolean',
  metricForBestModel: 'string',
  greaterIsBetter: 'boolean',
};

/** Defaults that derive from other arguments or have no value, described in words for help. */
const DEFAULT_NOTES: Partial<Record<TrainingKey, string>> = {
  evalSteps: '--logging-steps',
  greaterIsBetter: 'true unless --metric-for-best-model ends in loss',
  saveTotalLimit: 'keep all',
};

const PLACEHOLDERS: Record<ValueKind, string> = { string: '<name>', integer: '<int>', number: '<num>', boolean: '' };

const TRAINING_GROUP = 'Training arguments (CrossEncoderTrainingArguments, Hugging Face defaults)';

/** `--learning-rate` etc.: one option spec per training argument, keyed by flag name. */
export function trainingOptionSpecs(): Record<string, OptionSpec & { argument: TrainingKey }> {
  const defaults = resolveTrainingArguments({});
  return Object.fromEntries(
    (Object.entries(TRAINING_ARGUMENT_KINDS) as [TrainingKey, TrainingKind<unknown>][]).map(([argument, kind]) => {
      const choices = typeof kind === 'string' ? undefined : (kind as readonly string[]);
      const valueKind: ValueKind = choices ? 'string' : (kind as ValueKind);
      const fallback = DEFAULT_NOTES[argument] ?? defaults[argument];
      const spec = {
        argument,
        kind: valueKind,
        choices,
        value: valueKind === 'boolean' ? undefined : choices ? `<${choices.join('|')}>` : PLACEHOLDERS[valueKind],
        help: `${argument}${fallback === undefined ? '' : ` (default ${fallback})`}`,
        negatable: valueKind === 'boolean',
        group: TRAINING_GROUP,
      };
      return [kebabCase(argument), spec];
    }),
  );
}

/** The training arguments set on the command line (unset flags are left to the trainer's defaults). */
export function trainingArgumentsFrom(
  specs: Record<string, OptionSpec & { argument: TrainingKey }>,
  values: Readonly<Record<string, unknown>>,
): CrossEncoderTrainingArguments {
  const args: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (values[name] !== undefined) args[spec.argument] = values[name];
  }
  return args as CrossEncoderTrainingArguments;
}

// ---------------------------------------------------------------------------------------------
// Input and output

/** One non-blank input line and where it came from (`file:line`). */
interface SourceLine {
  text: string;
  where: string;
}

function sourceName(source: string): string {
  return source === '-' ? '<stdin>' : source;
}

async function openInput(source: string): Promise<Readable> {
  if (source === '-') return process.stdin;
  try {
    return (await open(source, 'r')).createReadStream();
  } catch (error) {
    throw new FileSystemError(`cannot read ${source}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Streams the non-blank lines of a file (`-`: stdin), with CRLF and a leading BOM removed.
 * @throws {FileSystemError} when the file cannot be opened or read.
 */
async function* readLines(source: string): AsyncGenerator<SourceLine> {
  const name = sourceName(source);
  const input = await openInput(source);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const line of lines) {
      number += 1;
      const text = number === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
      if (text.trim() !== '') yield { text, where: `${name}:${number}` };
    }
  } catch (error) {
    throw new FileSystemError(`cannot read ${name}: ${(error as Error).message}`, { cause: error });
  } finally {
    lines.close();
    if (input !== process.stdin) input.destroy();
  }
}

async function readAllLines(source: string): Promise<SourceLine[]> {
  const lines: SourceLine[] = [];
  for await (const line of readLines(source)) lines.push(line);
  if (lines.length === 0) throw new InvalidArgumentError(`${sourceName(source)}: no input (only blank lines, or none)`);
  return lines;
}

/** Parses one JSON Lines line, which must hold an object. */
export function parseJsonObject(line: SourceLine): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch (error) {
    throw new InvalidArgumentError(`${line.where}: invalid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`${line.where}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

/** The first of `fields` the record has; it must be a string. */
function stringField(record: Record<string, unknown>, fields: readonly string[], where: string): string {
  const field = fields.find((name) => record[name] !== undefined);
  const expected = fields.map((name) => `"${name}"`).join(' or ');
  if (field === undefined) throw new InvalidArgumentError(`${where}: missing ${expected}`);
  const value = record[field];
  if (typeof value !== 'string') throw new InvalidArgumentError(`${where}: "${field}" must be a string, got ${JSON.stringify(value)}`);
  return value;
}

/** A `{"query", "document"}` line as a pair. */
export function parsePairLine(line: SourceLine): Pair {
  const record = parseJsonObject(line);
  return [stringField(record, ['query'], line.where), stringField(record, ['document'], line.where)];
}

const DOCUMENT_FORMATS = ['txt', 'jsonl'] as const;
/** Format of a document list for `rank`. */
type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

/** The format named by `--format`, else the file extension; stdin is plain text unless told otherwise. */
export function documentFormat(source: string, format: DocumentFormat | undefined): DocumentFormat {
  if (format !== undefined) return format;
  if (source === '-') return 'txt';
  const extension = path.extname(source).toLowerCase();
  if (extension === '.txt') return 'txt';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  throw new UsageError(`cannot tell the format of ${source} from its extension; pass --format txt or --format jsonl`, 'rank');
}

/** One document per line (txt), or `{"document"}` / `{"text"}` objects (jsonl). */
function parseDocumentLine(line: SourceLine, format: DocumentFormat): string {
  return format === 'txt' ? line.text : stringField(parseJsonObject(line), ['document', 'text'], line.where);
}

/** A labelled pair file for training, by extension. */
async function loadPairFile(file: string, option: string): Promise<PairDataset> {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.jsonl' || extension === '.ndjson') return loadJsonl(file);
  if (extension === '.csv') return loadCsv(file);
  throw new UsageError(`${flag(option)} ${file}: expected a .jsonl or .csv file`, 'train');
}

/**
 * The shortest decimal that reads back as the same float32: scores are float32, and printing
 * their float64 expansion (0.10000000149011612) would only add noise digits.
 */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

/** Writes to stdout, waiting when the pipe is full so a slow reader bounds our memory. */
async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

function jsonLines(values: readonly unknown[]): string {
  return values.map((value) => `${JSON.stringify(value)}\n`).join('');
}

/** Aligned two-column table of metric values. */
export function formatMetricsTable(metrics: Readonly<Record<string, number>>): string {
  const rows = Object.entries(metrics);
  const width = Math.max('metric'.length, ...rows.map(([name]) => name.length));
  const lines = [`${'metric'.padEnd(width)}  value`, ...rows.map(([name, value]) => `${name.padEnd(width)}  ${value.toFixed(4)}`)];
  return `${lines.join('\n')}\n`;
}

function showProgress(): boolean {
  return process.stderr.isTTY === true;
}

// ---------------------------------------------------------------------------------------------
// Commands

interface Command {
  summary: string;
  /** Arguments after `crossencoder <name>` in the usage line. */
  usage: string;
  description: string;
  options: OptionSpecs;
  execute(argv: readonly string[]): Promise<void>;
}

/** Ties a command's option specs to its handler, so the handler sees typed values. */
function defineCommand<const S extends OptionSpecs>(
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

type ModelValues = ParsedOptions<typeof MODEL_OPTIONS> & { 'max-length'?: number };

function loadModel(values: ModelValues): Promise<CrossEncoder> {
  return CrossEncoder.fromPretrained(values.model, {
    revision: values.revision,
    cacheDir: values['cache-dir'],
    localFilesOnly: values['local-files-only'] === true ? true : undefined,
    maxLength: values['max-length'],
  });
}

const predictCommand = defineCommand('predict', {
  summary: 'Score (query, document) pairs from JSON lines',
  usage: '--input <pairs.jsonl|-> [options]',
  description:
    'Reads JSON lines {"query": …, "document": …} and writes one JSON line per input line, in order:\n' +
    '{"score": …}, or {"scores": […]} for a model with several labels. Blank lines are skipped.\n' +
    'Input is scored in chunks as it is read, so files of any size work. At a bad line it stops\n' +
    'with an error naming the line, after writing the scores of every line before it.',
  options: {
    input: { kind: 'string', short: 'i', value: '<file>', help: "JSON lines of pairs, '-' for stdin", required: true },
    activation: ACTIVATION_OPTION,
    'batch-size': BATCH_SIZE_OPTION,
    'max-length': MAX_LENGTH_OPTION,
    'chunk-size': { kind: 'integer', min: 1, value: '<n>', help: 'Pairs read before scoring them; bounds memory', default: DEFAULT_CHUNK_SIZE },
    ...MODEL_OPTIONS,
  },
  async run(values) {
    const model = await loadModel(values);
    const predictOptions = { batchSize: values['batch-size'], activation: values.activation };
    const progress = createProgress({ total: 0, label: 'Scoring', unit: 'pairs', enabled: showProgress() });
    let chunk: Pair[] = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      const result = await model.predict(chunk, predictOptions);
      const records = Array.from(result as ArrayLike<number | Float32Array>, (score) =>
        typeof score === 'number' ? { score: shortestFloat32(score) } : { scores: Array.from(score, shortestFloat32) },
      );
      progress.tick(chunk.length);
      chunk = [];
      await writeOut(jsonLines(records));
    };
    let badLine: unknown;
    for await (const line of readLines(values.input)) {
      try {
        chunk.push(parsePairLine(line));
      } catch (error) {
        badLine = error;
        break;
      }
      if (chunk.length >= values['chunk-size']) await flush();
    }
    // Every line before a bad one is still scored: the output is then a clean prefix.
    await flush();
    progress.finish();
    if (badLine !== undefined) throw badLine;
  },
});

const rankCommand = defineCommand('rank', {
  summary: 'Rank documents for one query',
  usage: '--query <text> --input <docs.txt|docs.jsonl|-> [options]',
  description:
    'Scores every document against the query and prints JSON lines {"corpusId", "score", "text"},\n' +
    'best first. corpusId is the 0-based index of the document among the non-blank input lines.\n' +
    'A .txt file holds one document per line; a .jsonl file one {"document": …} or {"text": …}\n' +
    'object per line.',
  options: {
    query: { kind: 'string', short: 'q', value: '<text>', help: 'The query', required: true },
    input: { kind: 'string', short: 'i', value: '<file>', help: "Documents, '-' for stdin", required: true },
    format: { kind: 'string', value: '<txt|jsonl>', choices: DOCUMENT_FORMATS, help: 'Input format; default: from the extension, txt for stdin' },
    'top-k': { kind: 'integer', short: 'k', min: 1, value: '<k>', help: 'Print only the best k documents; default: all' },
    activation: ACTIVATION_OPTION,
    'batch-size': BATCH_SIZE_OPTION,
    'max-length': MAX_LENGTH_OPTION,
    ...MODEL_OPTIONS,
  },
  async run(values) {
    const format = documentFormat(values.input, values.format);
    const model = await loadModel(values);
    const documents = (await readAllLines(values.input)).map((line) => parseDocumentLine(line, format));
    const ranked = await model.rank(values.query, documents, {
      topK: values['top-k'],
      batchSize: values['batch-size'],
      activation: values.activation,
      returnDocuments: true,
      showProgressBar: showProgress(),
    });
    await writeOut(jsonLines(ranked.map(({ corpusId, score, text }) => ({ corpusId, score: shortestFloat32(score), text }))));
  },
});

const downloadCommand = defineCommand('download', {
  summary: 'Download a model from the Hugging Face hub into the cache',
  usage: `[<id>] [options]`,
  description:
    `Fetches the model files of <id> (default ${DEFAULT_MODEL}) into the Hugging Face cache,\n` +
    'shared with Python, and prints the snapshot directory. Progress goes to stderr\n' +
    '(HF_HUB_DISABLE_PROGRESS_BARS=1 silences it).',
  maxPositionals: 1,
  options: {
    revision: MODEL_OPTIONS.revision,
    'cache-dir': MODEL_OPTIONS['cache-dir'],
    'local-files-only': MODEL_OPTIONS['local-files-only'],
  },
  async run(values, [id = DEFAULT_MODEL]) {
    const snapshot = await downloadModel(id, {
      revision: values.revision,
      cacheDir: values['cache-dir'],
      localFilesOnly: values['local-files-only'] === true ? true : undefined,
    });
    await writeOut(`${snapshot}\n`);
  },
});

const TRAINING_OPTIONS = trainingOptionSpecs();

const trainCommand = defineCommand('train', {
  summary: 'Fine-tune a model on labelled pairs',
  usage: '--train <rows.jsonl|rows.csv> --output <dir> [options]',
  description:
    'Trains on rows {query, document, label} (JSON lines, or CSV with a header) with the trainer\n' +
    'of the library API. Checkpoints go to <dir>/checkpoint-<step>; the final model is saved to\n' +
    '<dir>/final, whose path is printed. --eval adds an evaluation set (for --eval-strategy).\n' +
    'Boolean training flags take no value; --no-<flag> sets false. Negative numbers are written\n' +
    '--max-steps=-1.',
  options: {
    train: { kind: 'string', value: '<file>', help: 'Training rows (.jsonl or .csv)', required: true },
    output: { kind: 'string', short: 'o', value: '<dir>', help: 'Output directory: checkpoints, and the final model in <dir>/final', required: true },
    eval: { kind: 'string', value: '<file>', help: 'Evaluation rows (.jsonl or .csv)' },
    'resume-from-checkpoint': {
      kind: 'string',
      value: '<dir|latest>',
      help: "Continue from a checkpoint directory, or 'latest' for the newest in --output",
    },
    'max-length': MAX_LENGTH_OPTION,
    ...MODEL_OPTIONS,
    ...TRAINING_OPTIONS,
  },
  async run(values) {
    const args = { ...trainingArgumentsFrom(TRAINING_OPTIONS, values), outputDir: values.output };
    resolveTrainingArguments(args); // reject bad arguments before the slow loads
    const trainDataset = await loadPairFile(values.train, 'train');
    const evalDataset = values.eval === undefined ? undefined : await loadPairFile(values.eval, 'eval');
    const model = await loadModel(values);
    const resume = values['resume-from-checkpoint'];
    const output = await train({
      model,
      args,
      trainDataset,
      evalDataset,
      resumeFromCheckpoint: resume === 'latest' ? true : resume,
    });
    const finalDir = path.resolve(values.output, 'final');
    await model.savePretrained(finalDir);
    process.stderr.write(
      `${PROGRAM}: trained ${output.globalStep} steps, training loss ${output.trainingLoss.toFixed(4)}, ` +
        `${output.metrics.trainRuntime.toFixed(1)} s\n`,
    );
    await writeOut(`${finalDir}\n`);
  },
});

const evalCommand = defineCommand('eval', {
  summary: 'Evaluate a model as a reranker (MAP, MRR@k, NDCG@k)',
  usage: '--data <samples.jsonl|-> [options]',
  description:
    'Reads reranking samples, one JSON object per line: {"query", "positive": [...], "negative": [...]}\n' +
    'or {"query", "positive": [...], "documents": [...]} (first-stage results; adds base_* metrics),\n' +
    'runs CrossEncoderRerankingEvaluator and prints a table of the metrics.',
  options: {
    data: { kind: 'string', short: 'd', value: '<file>', help: "Reranking samples as JSON lines, '-' for stdin", required: true },
    'at-k': { kind: 'integer', min: 1, value: '<k>', help: 'Cut-off of MRR and NDCG', default: 10 },
    output: { kind: 'string', short: 'o', value: '<file>', help: 'Also write the metrics as JSON to this file' },
    'batch-size': BATCH_SIZE_OPTION,
    'max-length': MAX_LENGTH_OPTION,
    ...MODEL_OPTIONS,
  },
  async run(values) {
    const lines = await readAllLines(values.data);
    const samples = lines.map((line) => parseJsonObject(line) as unknown as RerankingSample);
    const evaluator = withLineNumbers(lines, () =>
      new CrossEncoderRerankingEvaluator({
        samples,
        atK: values['at-k'],
        batchSize: values['batch-size'],
        showProgressBar: showProgress(),
      }),
    );
    const model = await loadModel(values);
    const metrics = await evaluator.evaluate(model);
    if (values.output !== undefined) await writeJsonAtomic(values.output, metrics);
    await writeOut(formatMetricsTable(metrics));
  },
});

/** The evaluator names bad samples `samples[i]`; prefix the file and line they came from. */
function withLineNumbers<T>(lines: readonly SourceLine[], build: () => T): T {
  try {
    return build();
  } catch (error) {
    const index = error instanceof InvalidArgumentError ? /^samples\[(\d+)\]/.exec(error.message)?.[1] : undefined;
    const line = index === undefined ? undefined : lines[Number(index)];
    if (line === undefined) throw error;
    throw new InvalidArgumentError(`${line.where}: ${(error as Error).message}`, { cause: error });
  }
}

const COMMANDS: Readonly<Record<string, Command>> = {
  predict: predictCommand,
  rank: rankCommand,
  eval: evalCommand,
  train: trainCommand,
  download: downloadCommand,
};

// ---------------------------------------------------------------------------------------------
// Help and version

const MAX_LABEL_WIDTH = 40;

function optionLabel(name: string, spec: OptionSpec): string {
  const long = spec.negatable ? `--[no-]${name}` : flag(name);
  const short = spec.short ? `-${spec.short}, ` : '    ';
  return `${short}${long}${spec.value ? ` ${spec.value}` : ''}`;
}

function optionHelp(spec: OptionSpec): string {
  const extras: string[] = [];
  if (spec.choices && !spec.value?.includes('|')) extras.push(`one of ${spec.choices.join(', ')}`);
  if (spec.default !== undefined && spec.group !== TRAINING_GROUP) extras.push(`default ${spec.default}`);
  if (spec.required) extras.push('required');
  return extras.length > 0 ? `${spec.help} (${extras.join('; ')})` : spec.help;
}

/** The `--help` text of one command, generated from its option specs. */
export function commandHelp(name: string): string {
  const command = COMMANDS[name];
  const groups = new Map<string, [string, OptionSpec][]>([['Options', []]]);
  for (const entry of Object.entries(command.options)) {
    const group = entry[1].group ?? 'Options';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(entry);
  }
  groups.get('Options')!.push(['help', { kind: 'boolean', short: 'h', help: 'Show this help' }]);
  const labels = [...groups.values()].flat().map(([optionName, spec]) => optionLabel(optionName, spec));
  // Align on the labels that fit; a longer one puts its text on the next line.
  const width = Math.max(...labels.map((label) => label.length).filter((length) => length <= MAX_LABEL_WIDTH));
  const sections = [...groups].map(([title, entries]) => {
    const rows = entries.map(([optionName, spec]) => {
      const label = optionLabel(optionName, spec);
      const gap = label.length > width ? `\n  ${' '.repeat(width)}  ` : ' '.repeat(width - label.length + 2);
      return `  ${label}${gap}${optionHelp(spec)}`;
    });
    return `${title}:\n${rows.join('\n')}`;
  });
  return `Usage: ${PROGRAM} ${name} ${command.usage}\n\n${command.summary}.\n\n${command.description}\n\n${sections.join('\n\n')}\n`;
}

/** The overall `--help` text. */
export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const commands = Object.entries(COMMANDS)
    .map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
    .join('\n');
  return (
    `Usage: ${PROGRAM} <command> [options]\n\n` +
    'Score, rank, evaluate, fine-tune and download CrossEncoder rerankers (libtorch).\n\n' +
    `Commands:\n${commands}\n\n` +
    'Options:\n' +
    '  -h, --help     Show help (also: crossencoder <command> --help, crossencoder help <command>)\n' +
    '  -v, --version  Show the version\n\n' +
    `Exit status: 0 success, 1 runtime error, 2 usage error. CROSSENCODER_DEBUG=1 prints stack traces.\n`
  );
}

/** The version in the package.json next to this file (lib/ in source, dist/lib/ when built). */
export function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (json.name === 'torch-crossencoder' && json.version) return json.version;
    } catch {
      // no package.json here: look one level up
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new CrossEncoderError('cannot find the package.json of torch-crossencoder');
    dir = parent;
  }
}

function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

// ---------------------------------------------------------------------------------------------
// Entry point

/**
 * Runs the command line `argv` (without `node` and the script) and returns the exit status.
 * Output goes to stdout, errors to stderr.
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await dispatch(argv);
    return 0;
  } catch (error) {
    const { message, exitCode } = describeError(error);
    process.stderr.write(`${PROGRAM}: ${message}\n`);
    if (process.env.CROSSENCODER_DEBUG === '1' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return exitCode;
  }
}

async function dispatch(argv: readonly string[]): Promise<void> {
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
