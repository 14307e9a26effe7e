/**
 * The official Rust tokenizer (npm `tokenizers`, the binding of the crate BertTokenizerFast runs)
 * as the oracle: on generated pairs (test/helpers/pair-generator.ts), our padded ids, token type
 * ids and attention masks must equal its, with `longest_first` truncation at each pair's
 * `maxLength` and the crate's own padding. Zero differences.
 *
 * TOKENIZER_ORACLE_PAIRS and TOKENIZER_ORACLE_SEED (a number, or `random`) set the size and
 * seed of the run; `npm run test:tokenizer-oracle` runs 200,000 pairs from a random seed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Tokenizer as RustTokenizer, type Encoding } from 'tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoderTokenizer } from '../lib/tokenizer/tokenizer.js';

import { type GeneratedPair, generatePairs } from './helpers/pair-generator.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FIXTURE = path.join(root, 'test/fixtures/bert-base-uncased');

const PAIRS = Number(process.env.TOKENIZER_ORACLE_PAIRS ?? 20_000);
const SEED = process.env.TOKENIZER_ORACLE_SEED === 'random' ? Date.now() % 2 ** 32 : Number(process.env.TOKENIZER_ORACLE_SEED ?? 20261202);
/** Pairs collated together, as predict batches them. */
const BATCH = 32;

let ours: CrossEncoderTokenizer;
let rust: RustTokenizer;
beforeAll(async () => {
  ours = await CrossEncoderTokenizer.fromDirectory(FIXTURE);
  rust = RustTokenizer.fromFile(path.join(FIXTURE, 'tokenizer.json'));
});

/** The rows of a padded batch as number arrays. */
function rows(array: Int32Array, seqLength: number): number[][] {
  return Array.from({ length: array.length / seqLength }, (_, row) => Array.from(array.subarray(row * seqLength, (row + 1) * seqLength)));
}

/** Whether Rust cut both sides of a pair to half the budget, where the rule is subtle. */
function bothHalved(encoding: Encoding, maxLength: number): boolean {
  const budget = maxLength - 3;
  const query = encoding.getTypeIds().filter((type) => type === 0).length - 2;
  return query >= Math.floor(budget / 2) && encoding.getLength() - query - 3 >= Math.floor(budget / 2) && encoding.getLength() === maxLength;
}

/** Compares one batch: a readable line for the first difference from Rust's (or null), and how many pairs Rust halved. */
async function compare(batch: readonly GeneratedPair[], maxLength: number): Promise<{ difference: string | null; halved: number }> {
  const encodings: Encoding[] = await Promise.all(batch.map(({ query, document }) => rust.encode(query, document)));
  const halved = encodings.filter((encoding) => bothHalved(encoding, maxLength)).length;
  const seqLength = Math.max(...encodings.map((encoding) => encoding.getLength()));
  // The crate's own right padding ([PAD], type id 0, attention 0), as `padding=True` applies it.
  for (const encoding of encodings) encoding.pad(seqLength, { padId: ours.padTokenId, padToken: '[PAD]' });
  const tokenized = ours.encodeBatch(batch.map(({ query, document }) => [query, document]), maxLength);
  const fields = [
    ['input ids', rows(tokenized.inputIds, tokenized.seqLength), encodings.map((e) => e.getIds())],
    ['token type ids', rows(tokenized.tokenTypeIds, tokenized.seqLength), encodings.map((e) => e.getTypeIds())],
    ['attention mask', rows(tokenized.attentionMask, tokenized.seqLength), encodings.map((e) => e.getAttentionMask())],
  ] as const;
  for (const [field, actual, expected] of fields) {
    const row = expected.findIndex((ids, i) => JSON.stringify(ids) !== JSON.stringify(actual[i]));
    if (row < 0) continue;
    const { query, document } = batch[row];
    const [length, rustLength] = [actual[row].length, expected[row].length];
    const difference = `maxLength ${maxLength}, ${field} differ (${length} vs Rust ${rustLength} wide) for the pair ` +
      `${JSON.stringify(query.slice(0, 80))}… (${query.length} chars), ${JSON.stringify(document.slice(0, 80))}… (${document.length} chars)`;
    return { difference, halved };
  }
  return { difference: null, halved };
}

describe(`ids equal the Rust tokenizer on ${PAIRS} generated pairs (seed ${SEED})`, () => {
  it('padded input ids, token type ids and attention masks', async () => {
    const pairs = generatePairs(PAIRS, SEED);
    const byMaxLength = new Map<number, GeneratedPair[]>();
    for (const pair of pairs) byMaxLength.set(pair.maxLength, [...(byMaxLength.get(pair.maxLength) ?? []), pair]);
    const differences: string[] = [];
    let halvedPairs = 0;
    for (const [maxLength, group] of [...byMaxLength].sort(([a], [b]) => a - b)) {
      // The setting is read when an encoding starts: one length's encodings at a time.
      rust.setTruncation(maxLength, { strategy: 'LongestFirst' as never });
      for (let start = 0; start < group.length; start += BATCH) {
        const { difference, halved } = await compare(group.slice(start, start + BATCH), maxLength);
        if (difference && differences.length < 10) differences.push(difference);
        halvedPairs += halved;
      }
    }
    expect(differences).toEqual([]);
    // Not vacuous: a good share of pairs has both sides cut to half the budget, where the rule is subtle.
    expect(halvedPairs).toBeGreaterThan(PAIRS / 10);
  }, 600_000);
});
