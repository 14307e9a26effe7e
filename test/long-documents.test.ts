/**
 * Long documents scored as windows (lib/model/long-documents.ts, `longDocuments` in predict and
 * rank), checked against windows cut by hand: a document of one-token words, so that a window of
 * W tokens is the text of W words, scored with plain predict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, InvalidArgumentError } from '../lib/index.js';
import { encodeWindows } from '../lib/model/long-documents.js';

import { testModel } from './helpers/models.js';

const MAX_LENGTH = 32;
const QUERY = 'where is the river';
const CANDIDATES = (
  'house tree river city music water light night world school money story family health power market ' +
  'paper table window garden forest mountain ocean island bridge street field church library office ' +
  'doctor teacher friend mother father child woman man king queen army party court train plane ship'
).split(' ');

let model: CrossEncoder;
let tiny3: CrossEncoder;
/** Words the tokenizer keeps as one token each. */
let words: string[];
let queryTokens: number;

beforeAll(async () => {
  [model, tiny3] = await Promise.all([
    CrossEncoder.fromPretrained(testModel('tiny'), { maxLength: MAX_LENGTH }),
    CrossEncoder.fromPretrained(testModel('tiny-3labels'), { maxLength: MAX_LENGTH }),
  ]);
  words = CANDIDATES.filter((word) => model.tokenizer.encodeText(word, 10).length === 1);
  expect(words.length).toBeGreaterThan(30);
  queryTokens = model.tokenizer.encodeText(QUERY, 100).length;
});

afterAll(async () => {
  await Promise.all([model?.dispose?.(), tiny3?.dispose?.()]);
});

/** A document of `count` one-token words. */
const documentOf = (count: number, shift = 0) => Array.from({ length: count }, (_, i) => words[(i * 7 + shift) % words.length]).join(' ');

/** The windows' texts, cut by hand: W words, starts stepping by W - stride, the last ending at the end. */
function windowsByHand(document: string, window: number, stride: number): string[] {
  const tokens = document.split(' ');
  const starts: number[] = [];
  for (let start = 0; ; start += window - stride) {
    const from = Math.min(start, tokens.length - window);
    starts.push(from);
    if (from + window >= tokens.length) break;
  }
  return starts.map((start) => tokens.slice(start, start + window).join(' '));
}

async function logitsOf(pairs: [string, string][], options: Parameters<CrossEncoder['predict']>[1] = {}): Promise<Float32Array> {
  return (await model.predict(pairs, { activation: 'identity', ...options })) as Float32Array;
}

describe('encodeWindows', () => {
  it('cuts the windows a hand-made cut gives, token for token', () => {
    const window = MAX_LENGTH - 3 - queryTokens;
    for (const [length, stride] of [[100, 5], [60, 0], [window + 1, 3], [2 * window, window - 1]]) {
      const document = documentOf(length);
      const encodings = encodeWindows(model, QUERY, document, { stride });
      const byHand = windowsByHand(document, window, stride).map((text) => model.tokenizer.encodePair(QUERY, text, MAX_LENGTH));
      expect(encodings.map((e) => Array.from(e.inputIds))).toEqual(byHand.map((e) => Array.from(e.inputIds)));
      expect(encodings.map((e) => Array.from(e.tokenTypeIds))).toEqual(byHand.map((e) => Array.from(e.tokenTypeIds)));
    }
  });

  it('leaves a document that fits as encodePair encodes it, and reads at most maxTokensPerDoc tokens', () => {
    const fits = documentOf(MAX_LENGTH - 3 - queryTokens);
    expect(encodeWindows(model, QUERY, fits, {})).toEqual([model.tokenizer.encodePair(QUERY, fits, MAX_LENGTH)]);
    // 100 words, 40 read: the windows of the first 40 words only.
    const window = MAX_LENGTH - 3 - queryTokens;
    const document = documentOf(100);
    const first40 = document.split(' ').slice(0, 40).join(' ');
    const encodings = encodeWindows(model, QUERY, document, { maxTokensPerDoc: 40, stride: 4 });
    const byHand = windowsByHand(first40, window, 4).map((text) => model.tokenizer.encodePair(QUERY, text, MAX_LENGTH));
    expect(encodings.map((e) => Array.from(e.inputIds))).toEqual(byHand.map((e) => Array.from(e.inputIds)));
  });

  it('cuts a long query to half the budget next to a long document', () => {
    const longQuery = documentOf(50, 3);
    const encodings = encodeWindows(model, longQuery, documentOf(80), {});
    const half = Math.floor((MAX_LENGTH - 3) / 2);
    for (const encoding of encodings) {
      expect(encoding.inputIds.length).toBe(MAX_LENGTH);
      expect(Array.from(encoding.tokenTypeIds).filter((type) => type === 0).length).toBe(half + 2);
    }
  });
});

describe('predict and rank with longDocuments', () => {
  it("gives a long document its best window's score, as scoring the hand-cut windows does", async () => {
    const window = MAX_LENGTH - 3 - queryTokens;
    const documents = [documentOf(90), documentOf(45, 11), documentOf(5, 2)];
    const stride = 6;
    const actual = await logitsOf(documents.map((d) => [QUERY, d]), { longDocuments: { stride } });
    for (const [i, document] of documents.entries()) {
      const windows = document.split(' ').length + queryTokens + 3 <= MAX_LENGTH ? [document] : windowsByHand(document, window, stride);
      const scores = await logitsOf(windows.map((text) => [QUERY, text]));
      expect(Math.abs(actual[i] - Math.max(...scores)), `document ${i}`).toBeLessThanOrEqual(1e-5);
    }
    // A document that fits is scored exactly as without the option.
    const plain = await logitsOf([[QUERY, documents[2]]]);
    expect(actual[2]).toBeCloseTo(plain[0], 6);
  });

  it('rank() orders documents by their best window, with the default stride', async () => {
    const window = MAX_LENGTH - 3 - queryTokens;
    const stride = Math.min(128, Math.floor(window / 2));
    const documents = [documentOf(70), documentOf(70, 5), 'the river is here'];
    const ranked = await model.rank(QUERY, documents, { longDocuments: {}, activation: 'identity' });
    const best = await Promise.all(
      documents.map(async (document) => {
        const windows = document.split(' ').length + queryTokens + 3 <= MAX_LENGTH ? [document] : windowsByHand(document, window, stride);
        return Math.max(...(await logitsOf(windows.map((text) => [QUERY, text]))));
      }),
    );
    const order = best.map((_, i) => i).sort((a, b) => best[b] - best[a]);
    expect(ranked.map((r) => r.corpusId)).toEqual(order);
    ranked.forEach((r) => expect(Math.abs(r.score - best[r.corpusId])).toBeLessThanOrEqual(1e-5));
  });

  it('refuses bad options with the option named', async () => {
    const pairs: [string, string][] = [[QUERY, documentOf(60)]];
    const refuse = (promise: Promise<unknown>, pattern: RegExp) => expect(promise).rejects.toThrow(expect.objectContaining({ message: expect.stringMatching(pattern) }));
    await expect(model.predict(pairs, { longDocuments: { maxTokensPerDoc: 0 } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await refuse(model.predict(pairs, { longDocuments: { maxTokensPerDoc: 1.5 } }), /maxTokensPerDoc must be a positive integer/);
    await refuse(model.predict(pairs, { longDocuments: { stride: -1 } }), /stride must be an integer ≥ 0/);
    await refuse(model.predict(pairs, { longDocuments: { stride: 1000 } }), /stride \(1000\) must be smaller than the window/);
    await refuse(model.predict(pairs, { longDocuments: { window: 3 } as never }), /unknown option\(s\) window/);
    await refuse(tiny3.predict(pairs, { longDocuments: {} }), /one label/);
  });
});
