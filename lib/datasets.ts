/**
 * Labelled (query, document) pair datasets: building them from rows or columns, loading them from
 * JSONL and CSV files, splitting them, and grouping them into reranking samples.
 */

import { readFile } from 'node:fs/promises';

import { FileSystemError, InvalidArgumentError } from './errors.js';

/** One labelled pair. */
export interface PairRow {
  readonly query: string;
  readonly document: string;
  /** Relevance or class: 0/1 for binary relevance, a score in [0, 1], or a class index. */
  readonly label: number;
}

/** A validated, non-empty list of labelled pairs. */
export type PairDataset = ReadonlyArray<PairRow>;

/** Columns of equal length, as `datasets.Dataset.from_dict` takes them. */
export type PairColumns = Readonly<Record<string, ArrayLike<unknown>>>;

/** Rows (objects) or columns, see {@link toPairDataset}. */
export type PairInput = ReadonlyArray<object> | PairColumns;

/**
 * Names accepted for the label column: Sentence Transformers' data collator's `label` and `score`,
 * and their plurals. A dataset must have exactly one of them.
 */
export const LABEL_COLUMNS = ['label', 'labels', 'score', 'scores'] as const;

/** Which input column feeds each field. */
interface ColumnMapping {
  query: string;
  document: string;
  label: string;
}

/**
 * Builds a validated {@link PairDataset} from rows (`[{ query, document, label }, …]`) or from
 * columns (`{ query: [...], document: [...], label: [...] }`).
 *
 * The label column may be named `label`, `labels`, `score` or `scores`. The text columns are
 * `query` and `document` when both exist (other columns are then ignored); otherwise, following
 * Sentence Transformers' column-order convention, the two remaining columns in order are the query
 * and the document (`{ question, answer, score }` works). Rows take their column names from the
 * first row.
 *
 * @throws InvalidArgumentError when the input is empty, the columns cannot be resolved, columns have
 *   different lengths, or a row's texts are not strings or its label is not a finite number; the
 *   message names the row index and the column.
 */
export function toPairDataset(input: PairInput): PairDataset {
  if (Array.isArray(input)) return rowsToDataset(input, (i) => `row ${i}`);
  if (input === null || typeof input !== 'object') {
    throw new InvalidArgumentError('a pair dataset must be an array of rows or an object of columns');
  }
  return columnsToDataset(input as PairColumns);
}

function rowsToDataset(rows: readonly unknown[], locate: (index: number) => string): PairDataset {
  if (rows.length === 0) throw new InvalidArgumentError('the dataset is empty');
  const first = checkRowObject(rows[0], locate(0));
  const columns = resolveColumns(Object.keys(first), locate(0));
  return rows.map((row, i) => {
    const where = locate(i);
    const record = checkRowObject(row, where);
    return makeRow(record[columns.query], record[columns.document], record[columns.label], columns, where);
  });
}

function columnsToDataset(input: PairColumns): PairDataset {
  const names = Object.keys(input);
  for (const name of names) {
    const column = input[name];
    if (!Array.isArray(column) && !(ArrayBuffer.isView(column) && !(column instanceof DataView))) {
      throw new InvalidArgumentError(`column "${name}" must be an array`);
    }
  }
  const columns = resolveColumns(names, 'columns');
  const length = input[columns.query].length;
  for (const name of [columns.document, columns.label]) {
    if (input[name].length !== length) {
      throw new InvalidArgumentError(`column "${name}" has ${input[name].length} values but "${columns.query}" has ${length}`);
    }
  }
  if (length === 0) throw new InvalidArgumentError('the dataset is empty');
  return Array.from({ length }, (_, i) =>
    makeRow(input[columns.query][i], input[columns.document][i], input[columns.label][i], columns, `row ${i}`),
  );
}

function resolveColumns(names: readonly string[], where: string): ColumnMapping {
  const labels = names.filter((name) => (LABEL_COLUMNS as readonly string[]).includes(name));
  const expected = `expected "query", "document" (or two text columns in that order) and one of ${LABEL_COLUMNS.map((n) => `"${n}"`).join(', ')}; got ${names.map((n) => `"${n}"`).join(', ') || 'none'}`;
  if (labels.length !== 1) {
    throw new InvalidArgumentError(`${where}: ${labels.length === 0 ? 'no label column' : `several label columns (${labels.join(', ')})`}: ${expected}`);
  }
  const [label] = labels;
  if (names.includes('query') && names.includes('document')) return { query: 'query', document: 'document', label };
  const texts = names.filter((name) => name !== label);
  if (texts.length !== 2) throw new InvalidArgumentError(`${where}: cannot tell the text columns apart: ${expected}`);
  return { query: texts[0], document: texts[1], label };
}

function checkRowObject(row: unknown, where: string): Record<string, unknown> {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new InvalidArgumentError(`${where}: expected an object, got ${describe(row)}`);
  }
  return row as Record<string, unknown>;
}

function makeRow(query: unknown, document: unknown, label: unknown, columns: ColumnMapping, where: string): PairRow {
  if (typeof query !== 'string') throw new InvalidArgumentError(`${where}: "${columns.query}" must be a string, got ${describe(query)}`);
  if (typeof document !== 'string') {
    throw new InvalidArgumentError(`${where}: "${columns.document}" must be a string, got ${describe(document)}`);
  }
  if (typeof label !== 'number' || !Number.isFinite(label)) {
    throw new InvalidArgumentError(`${where}: "${columns.label}" must be a finite number, got ${describe(label)}`);
  }
  return { query, document, label };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Loads a JSON Lines file, one row object per line (blank lines are skipped), into a
 * {@link PairDataset}; columns are resolved as {@link toPairDataset} does.
 *
 * @throws FileSystemError when the file cannot be read.
 * @throws InvalidArgumentError naming `file:line` for invalid JSON or an invalid row.
 */
export async function loadJsonl(path: string): Promise<PairDataset> {
  const lines = (await readText(path)).split('\n');
  const rows: unknown[] = [];
  const lineNumbers: number[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line));
    } catch (error) {
      throw new InvalidArgumentError(`${path}:${i + 1}: invalid JSON: ${(error as Error).message}`);
    }
    lineNumbers.push(i + 1);
  });
  if (rows.length === 0) throw new InvalidArgumentError(`${path}: the file holds no rows`);
  return rowsToDataset(rows, (i) => `${path}:${lineNumbers[i]}`);
}

/**
 * Loads a CSV file (RFC 4180: comma-separated, a header row, fields optionally in double quotes
 * with `""` for a quote and commas or line breaks allowed inside; LF or CRLF line ends; blank
 * lines skipped) into a {@link PairDataset}. Columns are resolved from the header as
 * {@link toPairDataset} does; the label field is parsed as a decimal number.
 *
 * @throws FileSystemError when the file cannot be read.
 * @throws InvalidArgumentError naming `file:line` for malformed CSV, a wrong field count or a
 *   label that is not a number.
 */
export async function loadCsv(path: string): Promise<PairDataset> {
  const records = parseCsv(await readText(path), path);
  if (records.length === 0) throw new InvalidArgumentError(`${path}: the file is empty`);
  const [header, ...body] = records;
  const duplicate = header.fields.find((name, i) => header.fields.indexOf(name) !== i);
  if (duplicate !== undefined) throw new InvalidArgumentError(`${path}:${header.line}: column "${duplicate}" appears twice in the header`);
  const columns = resolveColumns(header.fields, `${path}:${header.line}`);
  if (body.length === 0) throw new InvalidArgumentError(`${path}: the file holds a header but no rows`);
  const index = (name: string) => header.fields.indexOf(name);
  return body.map(({ fields, line }) => {
    const where = `${path}:${line}`;
    if (fields.length !== header.fields.length) {
      throw new InvalidArgumentError(`${where}: ${fields.length} fields, but the header has ${header.fields.length}`);
    }
    const rawLabel = fields[index(columns.label)];
    return makeRow(fields[index(columns.query)], fields[index(columns.document)], parseDecimal(rawLabel) ?? rawLabel, columns, where);
  });
}

/** One CSV record with the 1-based line it starts on. */
interface CsvRecord {
  fields: string[];
  line: number;
}

function parseCsv(text: string, path: string): CsvRecord[] {
  return new CsvReader(text, path).records();
}

/** An RFC 4180 reader that tracks line numbers for its error messages. */
class CsvReader {
  #i = 0;
  #line = 1;

  constructor(
    private readonly text: string,
    private readonly path: string,
  ) {}

  records(): CsvRecord[] {
    const records: CsvRecord[] = [];
    while (this.#i < this.text.length) {
      const line = this.#line;
      const fields = this.#record();
      // A blank line reads as one empty field; skip it rather than report a field-count error.
      if (fields.length > 1 || fields[0] !== '') records.push({ fields, line });
    }
    return records;
  }

  /** Reads fields up to and including the end of the record. */
  #record(): string[] {
    const { text } = this;
    const fields = [text[this.#i] === '"' ? this.#quoted() : this.#unquoted()];
    while (text[this.#i] === ',') {
      this.#i++;
      fields.push(text[this.#i] === '"' ? this.#quoted() : this.#unquoted());
    }
    if (text[this.#i] === '\r') this.#i++;
    if (text[this.#i] === '\n') this.#i++;
    this.#line++;
    return fields;
  }

  #quoted(): string {
    const { text } = this;
    const startLine = this.#line;
    let value = '';
    let i = this.#i + 1;
    for (;;) {
      const quote = text.indexOf('"', i);
      if (quote < 0) throw this.#error(startLine, 'a quoted field is never closed');
      const chunk = text.slice(i, quote);
      value += chunk;
      this.#line += countNewlines(chunk);
      i = quote + 1;
      if (text[i] !== '"') break;
      value += '"'; // "" stands for one quote
      i++;
    }
    this.#i = i;
    if (i < text.length && !',\r\n'.includes(text[i])) {
      throw this.#error(this.#line, `unexpected ${JSON.stringify(text[i])} after a closing quote`);
    }
    return value;
  }

  #unquoted(): string {
    const { text } = this;
    const start = this.#i;
    let end = start;
    for (; end < text.length && !',\r\n'.includes(text[end]); end++) {
      if (text[end] === '"') throw this.#error(this.#line, 'a quote inside an unquoted field (quote the whole field and double the quote)');
    }
    this.#i = end;
    return text.slice(start, end);
  }

  #error(line: number, message: string): InvalidArgumentError {
    return new InvalidArgumentError(`${this.path}:${line}: ${message}`);
  }
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseDecimal(text: string): number | undefined {
  const trimmed = text.trim();
  return DECIMAL.test(trimmed) ? Number(trimmed) : undefined;
}

async function readText(path: string): Promise<string> {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError('path must be a non-empty string');
  try {
    const text = await readFile(path, 'utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (error) {
    throw new FileSystemError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Options of {@link trainTestSplit}. */
export interface TrainTestSplitOptions {
  /** A fraction in (0, 1) of the rows (rounded up, as scikit-learn), or a whole number of rows. */
  testSize: number;
  /** Seed of the shuffle, an integer in [0, 2^32) (default 0). */
  seed?: number;
}

/**
 * Shuffles `dataset` with a seeded {@link mulberry32} Fisher–Yates shuffle and splits it: the first
 * `testSize` shuffled rows are the test set, the rest the training set (both in shuffled order).
 * The same seed always gives the same split. Pairs of one query may land on both sides.
 *
 * @throws InvalidArgumentError when the dataset is empty, the seed is not a 32-bit unsigned integer,
 *   or `testSize` would leave either side empty.
 */
export function trainTestSplit<T>(dataset: readonly T[], options: TrainTestSplitOptions): { train: T[]; test: T[] } {
  if (!Array.isArray(dataset) || dataset.length === 0) throw new InvalidArgumentError('trainTestSplit needs a non-empty dataset');
  const { testSize, seed = 0 } = options ?? ({} as TrainTestSplitOptions);
  const n = dataset.length;
  const testCount = resolveTestCount(testSize, n);
  const order = shuffledIndices(n, mulberry32(checkSeed(seed)));
  return {
    test: order.slice(0, testCount).map((i) => dataset[i]),
    train: order.slice(testCount).map((i) => dataset[i]),
  };
}

function resolveTestCount(testSize: number, n: number): number {
  if (typeof testSize !== 'number' || !Number.isFinite(testSize) || testSize <= 0) {
    throw new InvalidArgumentError(`testSize must be a fraction in (0, 1) or a positive whole number of rows, got ${String(testSize)}`);
  }
  if (Number.isInteger(testSize)) {
    if (testSize >= n) throw new InvalidArgumentError(`testSize ${testSize} leaves no training rows out of ${n}`);
    return testSize;
  }
  if (testSize > 1) throw new InvalidArgumentError(`testSize ${testSize} is neither a fraction in (0, 1) nor a whole number`);
  const count = Math.ceil(testSize * n);
  if (count >= n) throw new InvalidArgumentError(`testSize ${testSize} of ${n} rows is ${count} rows and leaves no training rows`);
  return count;
}

function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new InvalidArgumentError(`seed must be an integer in [0, 2^32), got ${String(seed)}`);
  }
  return seed;
}

/**
 * Mulberry32, Tommy Ettinger's public-domain 32-bit PRNG: a fast, well-mixed generator whose
 * sequence depends only on the seed, so splits are reproducible across platforms. Returns a
 * function giving floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Fisher–Yates permutation of 0..n-1 drawn from `random`. */
export function shuffledIndices(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** A query with its positive and negative documents: a reranking sample with `negative`. */
export interface QueryGroup {
  query: string;
  positive: string[];
  negative: string[];
}

/**
 * Groups labelled pairs by query, in order of first appearance, into reranking samples for
 * `CrossEncoderRerankingEvaluator`: a pair with `label > 0` is a positive, any other a
 * negative (so graded or soft labels count as relevant when above 0). Documents keep their order.
 * A query with no positive yields a sample with an empty `positive` list, which the evaluator
 * scores 0 and counts in its means, as Sentence Transformers does; filter with
 * `samples.filter((s) => s.positive.length > 0)` to drop such queries.
 */
export function toRerankingSamples(dataset: PairDataset): QueryGroup[] {
  if (!Array.isArray(dataset) || dataset.length === 0) throw new InvalidArgumentError('toRerankingSamples needs a non-empty dataset');
  const byQuery = new Map<string, QueryGroup>();
  dataset.forEach((row, i) => {
    if (row === null || typeof row !== 'object' || typeof row.query !== 'string' || typeof row.document !== 'string' || typeof row.label !== 'number') {
      throw new InvalidArgumentError(`row ${i}: expected { query: string, document: string, label: number } (build the dataset with toPairDataset)`);
    }
    let sample = byQuery.get(row.query);
    if (!sample) byQuery.set(row.query, (sample = { query: row.query, positive: [], negative: [] }));
    (row.label > 0 ? sample.positive : sample.negative).push(row.document);
  });
  return [...byQuery.values()];
}

/**
 * A dataset read by column position, as Sentence Transformers reads one: the label column is found
 * by name (`label`, `labels`, `score` or `scores`), every other column is an input, in order (the
 * first is the query; the loss's inputs follow). Rows keep their values as given (strings, lists,
 * numbers); each loss checks them. Build one with {@link toColumnDataset} or load one with
 * {@link loadDataset}.
 */
export class ColumnDataset {
  /** The input columns in order (the label column and `dataset_name` left out). */
  readonly inputColumns: readonly string[];
  /** The label column's name, if there is one. */
  readonly labelColumn: string | undefined;
  readonly #rows: readonly Record<string, unknown>[];
  readonly #where: (row: number) => string;

  /** @internal Use {@link toColumnDataset} or {@link loadDataset}. */
  constructor(columns: readonly string[], rows: readonly Record<string, unknown>[], where: (row: number) => string) {
    const labels = columns.filter((name) => (LABEL_COLUMNS as readonly string[]).includes(name));
    if (labels.length > 1) throw new InvalidArgumentError(`several label columns (${labels.join(', ')}); keep one of them`);
    this.labelColumn = labels[0];
    this.inputColumns = columns.filter((name) => name !== this.labelColumn && name !== 'dataset_name');
    this.#rows = rows;
    this.#where = where;
  }

  /** Number of rows. */
  get length(): number {
    return this.#rows.length;
  }

  /** The value of input column `column` (an index into {@link inputColumns}) in `row`. */
  input(row: number, column: number): unknown {
    return this.#rows[row][this.inputColumns[column]];
  }

  /** The row's label (undefined without a label column). */
  label(row: number): unknown {
    return this.labelColumn === undefined ? undefined : this.#rows[row][this.labelColumn];
  }

  /** Where a row came from, for error messages: `row 3` or `file.jsonl:4`. */
  where(row: number): string {
    return this.#where(row);
  }

  /** The rows as objects. */
  rows(): Record<string, unknown>[] {
    return this.#rows.map((row) => ({ ...row }));
  }
}

/**
 * A {@link ColumnDataset} from rows (column order = the first row's key order) or from columns
 * of equal length (key order = column order).
 * @throws InvalidArgumentError for an empty input, columns of different lengths or several label columns.
 */
export function toColumnDataset(input: PairInput | ColumnDataset): ColumnDataset {
  if (input instanceof ColumnDataset) return input;
  if (Array.isArray(input)) {
    if (input.length === 0) throw new InvalidArgumentError('the dataset is empty');
    const rows = input.map((row, i) => checkRowObject(row, `row ${i}`));
    return new ColumnDataset(Object.keys(rows[0]), rows, (i) => `row ${i}`);
  }
  if (input === null || typeof input !== 'object') throw new InvalidArgumentError('a dataset must be an array of rows or an object of columns');
  const columns = input as PairColumns;
  const names = Object.keys(columns);
  if (names.length === 0) throw new InvalidArgumentError('the dataset has no columns');
  for (const name of names) {
    const column = columns[name];
    if (!Array.isArray(column) && !(ArrayBuffer.isView(column) && !(column instanceof DataView))) {
      throw new InvalidArgumentError(`column "${name}" must be an array`);
    }
    if (column.length !== columns[names[0]].length) {
      throw new InvalidArgumentError(`column "${name}" has ${column.length} values but "${names[0]}" has ${columns[names[0]].length}`);
    }
  }
  const length = columns[names[0]].length;
  if (length === 0) throw new InvalidArgumentError('the dataset is empty');
  const rows = Array.from({ length }, (_, i) => Object.fromEntries(names.map((name) => [name, columns[name][i]])));
  return new ColumnDataset(names, rows, (i) => `row ${i}`);
}

/**
 * Loads a `.jsonl` file (one row object per line) or a `.csv` file (a header row; a field that
 * starts with `[` is read as JSON, so list columns such as `docs` and `labels` can be written
 * `"[""a"", ""b""]"`; a decimal field is a number) into a {@link ColumnDataset}.
 * @throws FileSystemError when the file cannot be read; InvalidArgumentError naming `file:line`.
 */
export async function loadDataset(path: string): Promise<ColumnDataset> {
  if (typeof path === 'string' && path.toLowerCase().endsWith('.csv')) {
    const records = parseCsv(await readText(path), path);
    if (records.length < 2) throw new InvalidArgumentError(`${path}: the file holds no rows`);
    const [header, ...body] = records;
    const rows = body.map(({ fields, line }) => {
      if (fields.length !== header.fields.length) {
        throw new InvalidArgumentError(`${path}:${line}: ${fields.length} fields, but the header has ${header.fields.length}`);
      }
      return Object.fromEntries(header.fields.map((name, i) => [name, csvValue(fields[i], `${path}:${line}`)]));
    });
    return new ColumnDataset(header.fields, rows, (i) => `${path}:${body[i].line}`);
  }
  const lines = (await readText(path)).split('\n');
  const rows: Record<string, unknown>[] = [];
  const lineNumbers: number[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (error) {
      throw new InvalidArgumentError(`${path}:${i + 1}: invalid JSON: ${(error as Error).message}`);
    }
    rows.push(checkRowObject(row, `${path}:${i + 1}`));
    lineNumbers.push(i + 1);
  });
  if (rows.length === 0) throw new InvalidArgumentError(`${path}: the file holds no rows`);
  return new ColumnDataset(Object.keys(rows[0]), rows, (i) => `${path}:${lineNumbers[i]}`);
}

function csvValue(field: string, where: string): unknown {
  if (field.trimStart().startsWith('[')) {
    try {
      return JSON.parse(field);
    } catch (error) {
      throw new InvalidArgumentError(`${where}: a field starting with "[" must be a JSON list: ${(error as Error).message}`);
    }
  }
  return parseDecimal(field) ?? field;
}
