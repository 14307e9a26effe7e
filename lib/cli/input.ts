/** Reading the commands' input: lines of files or stdin, JSON objects, pairs, documents, datasets. */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

import { loadCsv, loadJsonl, type PairDataset } from '../datasets.js';
import { FileSystemError, InvalidArgumentError } from '../errors.js';
import type { Pair } from '../model/cross-encoder.js';

import { flag } from './options.js';
import { UsageError } from './usage-error.js';

/** One non-blank input line and where it came from (`file:line`). */
export interface SourceLine {
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
export async function* readLines(source: string): AsyncGenerator<SourceLine> {
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

export async function readAllLines(source: string): Promise<SourceLine[]> {
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

export const DOCUMENT_FORMATS = ['txt', 'jsonl'] as const;
/** Format of a document list for `rank`. */
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

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
export function parseDocumentLine(line: SourceLine, format: DocumentFormat): string {
  return format === 'txt' ? line.text : stringField(parseJsonObject(line), ['document', 'text'], line.where);
}

/** A labelled pair file for training, by extension. */
export async function loadPairFile(file: string, option: string): Promise<PairDataset> {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.jsonl' || extension === '.ndjson') return loadJsonl(file);
  if (extension === '.csv') return loadCsv(file);
  throw new UsageError(`${flag(option)} ${file}: expected a .jsonl or .csv file`, 'train');
}
