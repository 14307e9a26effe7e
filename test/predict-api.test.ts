/**
 * The scoring API: argument checking, `rank()`, the top-level `predict()`, and how predict
 * behaves around the event loop (responsiveness, concurrent calls, process.exit mid-call).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, InvalidArgumentError, type Pair, predict } from '../lib/index.js';

import { testModel } from './helpers/models.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

const QUERY = 'How many people live in Berlin?';
const DOCUMENTS = [
  'Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.',
  'New York City is famous for the Metropolitan Museum of Art.',
  'Berlin is the capital and largest city of Germany.',
  'The weather today is sunny.',
  'About 3.8 million people live in Berlin, the most populous city of the European Union.',
];
const PAIRS: Pair[] = DOCUMENTS.map((document) => [QUERY, document]);

/** A German-Wikipedia-like paragraph of ~40 tokens; 20 of them exceed 512 tokens. */
const PARAGRAPH =
  'Berlin is the capital and largest city of Germany, both by area and by population. Its more than ' +
  '3.85 million inhabitants make it the most populous city of the European Union. ';
const longPairs = (count: number): Pair[] =>
  Array.from({ length: count }, (_, i) => [`query ${i}: how large is Berlin?`, `${PARAGRAPH.repeat(20)} (${i})`]);

let tiny: CrossEncoder;
let tiny3: CrossEncoder;

beforeAll(async () => {
  [tiny, tiny3] = await Promise.all([CrossEncoder.fromPretrained(testModel('tiny')), CrossEncoder.fromPretrained(testModel('tiny-3labels'))]);
});

async function expectInvalidArgument(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect((error as InvalidArgumentError).code).toBe('ERR_INVALID_ARGUMENT');
  expect((error as Error).message).toMatch(pattern);
}

describe('predict() arguments', () => {
  it.each([
    { what: 'a number instead of a document', pairs: [['a', 'b'], ['a', 1]], index: 1 },
    { what: 'one string', pairs: [['a', 'b'], ['a', 'b'], ['a']], index: 2 },
    { what: 'three strings', pairs: [['a', 'b', 'c']], index: 0 },
    { what: 'a string instead of a pair', pairs: [['a', 'b'], 'ab'], index: 1 },
    { what: 'null', pairs: [null], index: 0 },
    { what: 'an object', pairs: [['a', 'b'], { query: 'a', document: 'b' }], index: 1 },
    // eslint-disable-next-line no-sparse-arrays
    { what: 'a hole in a sparse array', pairs: [['a', 'b'], , ['c', 'd']], index: 1 },
  ])('rejects a pair that is $what, naming its index', async ({ pairs, index }) => {
    await expectInvalidArgument(tiny.predict(pairs as never), new RegExp(`^pairs\\[${index}\\] must be a \\[query, document\\] pair of two strings`));
  });

  it('rejects a path with a NUL character, in loading and in saving', async () => {
    await expectInvalidArgument(CrossEncoder.fromPretrained('models/a\0b'), /nameOrPath must not contain a NUL character/);
    await expectInvalidArgument(tiny.savePretrained('out\0dir'), /dir must not contain a NUL character/);
  });

  it('rejects pairs that are not an array', async () => {
    await expectInvalidArgument(tiny.predict('a, b' as never), /pairs must be an array/);
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity, '8'])('rejects batchSize %s', async (batchSize) => {
    await expectInvalidArgument(tiny.predict(PAIRS, { batchSize: batchSize as number }), /batchSize must be a positive integer/);
  });

  it('rejects an unknown activation', async () => {
    await expectInvalidArgument(tiny.predict(PAIRS, { activation: 'relu' as never }), /activation must be one of sigmoid, identity, softmax, got "relu"/);
  });

  it('returns an empty Float32Array for no pairs', async () => {
    const scores = await tiny.predict([]);
    expect(scores).toBeInstanceOf(Float32Array);
    expect(scores).toHaveLength(0);
  });

  it('returns no rows for no pairs on a 3-label model', async () => {
    expect(await tiny3.predict([])).toEqual([]);
  });

  it('applies the activation option (sigmoid of identity)', async () => {
    const logits = (await tiny.predict(PAIRS, { activation: 'identity' })) as Float32Array;
    const probabilities = (await tiny.predict(PAIRS, { activation: 'sigmoid' })) as Float32Array;
    logits.forEach((logit, i) => expect(probabilities[i]).toBeCloseTo(1 / (1 + Math.exp(-logit)), 6));
    // The option is per call: the model's own activation is unchanged.
    expect(tiny.activation).toBe('sigmoid');
  });
});

describe('rank()', () => {
  let scores: Float32Array;
  beforeAll(async () => {
    scores = (await tiny.predict(PAIRS)) as Float32Array;
    // Distinct scores, so the expected order is unambiguous.
    expect(new Set(scores).size).toBe(DOCUMENTS.length);
  });

  const bestFirst = () => [...DOCUMENTS.keys()].sort((a, b) => scores[b] - scores[a]);

  it('returns every document best first, with its index and score', async () => {
    const ranked = await tiny.rank(QUERY, DOCUMENTS);
    expect(ranked.map((r) => r.corpusId)).toEqual(bestFirst());
    for (const r of ranked) {
      expect(r.score).toBe(scores[r.corpusId]);
      expect(r).not.toHaveProperty('text');
    }
  });

  it('keeps the topK best', async () => {
    const ranked = await tiny.rank(QUERY, DOCUMENTS, { topK: 2 });
    expect(ranked.map((r) => r.corpusId)).toEqual(bestFirst().slice(0, 2));
    expect(await tiny.rank(QUERY, DOCUMENTS, { topK: 100 })).toHaveLength(DOCUMENTS.length);
  });

  it('returns the documents when asked', async () => {
    const ranked = await tiny.rank(QUERY, DOCUMENTS, { returnDocuments: true });
    for (const r of ranked) expect(r.text).toBe(DOCUMENTS[r.corpusId]);
  });

  it('passes predict options through (activation)', async () => {
    const ranked = await tiny.rank(QUERY, DOCUMENTS, { activation: 'identity', batchSize: 2 });
    const logits = (await tiny.predict(PAIRS, { activation: 'identity' })) as Float32Array;
    for (const r of ranked) expect(r.score).toBeCloseTo(logits[r.corpusId], 6);
  });

  it('returns nothing for no documents', async () => {
    expect(await tiny.rank(QUERY, [])).toEqual([]);
  });

  it.each([0, -2, 1.5])('rejects topK %s', async (topK) => {
    await expectInvalidArgument(tiny.rank(QUERY, DOCUMENTS, { topK }), /topK must be a positive integer/);
  });

  it('rejects a query that is not a string and documents that are not an array', async () => {
    await expectInvalidArgument(tiny.rank(42 as never, DOCUMENTS), /query must be a string/);
    await expectInvalidArgument(tiny.rank(QUERY, 'doc' as never), /documents must be an array/);
  });

  it('rejects a document that is not a string, naming its index', async () => {
    await expectInvalidArgument(tiny.rank(QUERY, ['a', 'b', 3] as never), /documents\[2\] must be a string, got 3/);
    // eslint-disable-next-line no-sparse-arrays
    await expectInvalidArgument(tiny.rank(QUERY, ['a', , 'c'] as never), /documents\[1\] must be a string, got nothing \(a hole/);
  });

  it('refuses a model with several labels', async () => {
    await expectInvalidArgument(tiny3.rank(QUERY, DOCUMENTS), /rank\(\) needs a model with one label.*has 3/);
  });
});

describe('top-level predict()', () => {
  it('loads the model from a path and scores like CrossEncoder.predict', async () => {
    expect(await predict(testModel('tiny'), PAIRS)).toEqual(await tiny.predict(PAIRS));
  });

  it('passes loading and predict options through', async () => {
    const model16 = await CrossEncoder.fromPretrained(testModel('tiny'), { maxLength: 16 });
    const expected = await model16.predict(PAIRS, { activation: 'identity', batchSize: 2 });
    // maxLength 16 truncates these pairs, so the scores show whether it was passed on.
    expect(expected).not.toEqual(await tiny.predict(PAIRS, { activation: 'identity', batchSize: 2 }));
    expect(await predict(testModel('tiny'), PAIRS, { maxLength: 16, activation: 'identity', batchSize: 2 })).toEqual(expected);
  });

  it('accepts a loaded model', async () => {
    expect(await predict(tiny3, PAIRS)).toEqual(await tiny3.predict(PAIRS));
  });
});

describe('predict and the event loop (minilm-l6)', () => {
  let minilm: CrossEncoder;
  beforeAll(async () => {
    minilm = await CrossEncoder.fromPretrained(testModel('minilm-l6'));
  });

  it('keeps the event loop responsive during a long predict', async () => {
    const pairs = longPairs(64);
    let last = performance.now();
    let maxGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 10);
    const started = performance.now();
    try {
      await minilm.predict(pairs);
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - started;
    // The work must really have been long, or a small gap would prove nothing.
    expect(elapsed).toBeGreaterThan(1000);
    expect(ticks).toBeGreaterThan(10);
    expect(maxGap, `longest event-loop stall during a ${Math.round(elapsed)} ms predict`).toBeLessThan(200);
  });

  it('gives the same results to concurrent calls as to sequential ones', async () => {
    const sets: Pair[][] = [longPairs(6), PAIRS, longPairs(3).map(([q, d]) => [d.slice(0, 600), q] as const), [...PAIRS].reverse()];
    const sequential: Array<Float32Array | Float32Array[]> = [];
    for (const pairs of sets) sequential.push(await minilm.predict(pairs, { batchSize: 2 }));
    const concurrent = await Promise.all(sets.map((pairs) => minilm.predict(pairs, { batchSize: 2 })));
    expect(concurrent).toEqual(sequential);
  });
});

describe('process.exit() during a running predict', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tce-exit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits cleanly with the requested code', async () => {
    const script = path.join(dir, 'exit-during-predict.mts');
    await writeFile(
      script,
      `import { CrossEncoder } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'lib', 'index.js')).href)};
const model = await CrossEncoder.fromPretrained(${JSON.stringify(testModel('minilm-l6'))});
const paragraph = ${JSON.stringify(PARAGRAPH)};
const pairs = Array.from({ length: 64 }, (_, i) => ['query ' + i, paragraph.repeat(20)]);
model.predict(pairs).then(() => { console.log('finished'); process.exit(3); }, (error) => { console.log('failed', error); process.exit(4); });
setTimeout(() => { console.log('exiting'); process.exit(0); }, 100);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let exitCalledAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (exitCalledAt === undefined && stdout.includes('exiting')) exitCalledAt = performance.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A hang is the failure this test looks for: do not let it outlive the test.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    clearTimeout(guard);
    const exitedAt = performance.now();

    const report = `stdout: ${stdout}\nstderr: ${stderr}`;
    expect(stdout, report).toContain('exiting');
    expect(stdout, report).not.toContain('finished');
    expect({ code, signal }, report).toEqual({ code: 0, signal: null });
    expect(exitedAt - exitCalledAt!, report).toBeLessThan(5000);
  });
});
