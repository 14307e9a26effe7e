/**
 * The `crossencoder` command line, run as a child process on the current source
 * (`node --import tsx lib/cli/index.ts`, so no build step is needed), plus unit tests of its pure helpers.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kebabCase, parseOptions } from '../lib/cli/options.js';
import { shortestFloat32 } from '../lib/cli/output.js';
import { trainingArgumentsFrom, trainingOptionSpecs } from '../lib/cli/training-options.js';
import { UsageError } from '../lib/cli/usage-error.js';
import { suggest } from '../lib/suggest.js';
import { TRAINING_ARGUMENT_NAMES } from '../lib/training/training-arguments.js';

import { referencePredict, testModel } from './helpers/models.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'lib/cli/index.ts');
const TINY = testModel('tiny');
/** Each run starts node, tsx and libtorch: a few seconds on a loaded 2-core machine. */
const TIMEOUT = 60_000;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args`, feeding `stdin`; never touches the network or the user's cache. */
function run(args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        HF_HUB_OFFLINE: '1',
        HF_HUB_CACHE: path.join(work, 'empty-hub-cache'),
        HF_HUB_DISABLE_PROGRESS_BARS: '1',
        CROSSENCODER_DEBUG: '',
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** Scores of a one-label `predict` output. */
const scoresOf = (stdout: string): number[] => jsonLines(stdout).map((record) => record.score as number);

/**
 * Scores of the same pairs batched differently differ by float rounding (~1e-7): padding and
 * batch shapes change libtorch's summation order.
 */
function expectSameScores(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((score, i) => expect(Math.abs(score - expected[i]), `pair ${i}: ${score} vs ${expected[i]}`).toBeLessThan(1e-6));
}

/** Asserts a one-line `crossencoder: …` error on stderr with the given exit status, and returns it. */
function expectError(result: RunResult, exitCode: 1 | 2, pattern: RegExp): string {
  expect(result.code, result.stderr).toBe(exitCode);
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^crossencoder: /);
  expect(lines[0]).toMatch(pattern);
  return lines[0];
}

let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'crossencoder-cli-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function writeWorkFile(name: string, text: string): Promise<string> {
  const file = path.join(work, name);
  await writeFile(file, text);
  return file;
}

const PAIRS: [string, string][] = [
  ['How many people live in Berlin?', 'Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.'],
  ['How many people live in Berlin?', 'New York City is famous for the Metropolitan Museum of Art.'],
  ['a', 'b'],
  ['What is the capital of France?', ''],
  ['Café crème brûlée à Paris?', 'Ünïcödé façade, naïve résumé; 北京 😀'],
  ['long document', 'Cross-encoders read the query and the passage together. '.repeat(60)],
  ['what is [MASK]?', 'a [SEP] b [CLS] c'],
];
const pairLines = (pairs: readonly (readonly [string, string])[]) =>
  pairs.map(([query, document]) => `${JSON.stringify({ query, document })}\n`).join('');

describe('crossencoder predict', () => {
  it(
    "gives PyTorch's logits within 1e-5 on MiniLM-L6, in input order across chunks",
    async () => {
      const model = testModel('minilm-l6');
      const input = await writeWorkFile('parity.jsonl', pairLines(PAIRS));
      // Chunks of 3 and batches of 2: scoring is split and sorted by length inside, order must survive.
      const result = await run(['predict', '--model', model, '--input', input, '--activation', 'identity', '--chunk-size', '3', '--batch-size', '2']);
      expect(result.code, result.stderr).toBe(0);
      const scores = scoresOf(result.stdout);
      const reference = await referencePredict(model, { pairs: PAIRS });
      expect(scores).toHaveLength(PAIRS.length);
      scores.forEach((score, i) => expect(Math.abs(score - reference.logits[i][0]), `pair ${i}`).toBeLessThan(1e-5));
    },
    TIMEOUT * 2,
  );

  it(
    'reads stdin with --input -, applies sigmoid by default, and honours --max-length',
    async () => {
      const input = await writeWorkFile('tiny.jsonl', pairLines(PAIRS));
      const [fromFile, fromStdin, identity, truncated] = await Promise.all([
        run(['predict', '-m', TINY, '-i', input]),
        run(['predict', '-m', TINY, '--input', '-'], { stdin: pairLines(PAIRS) }),
        run(['predict', '-m', TINY, '-i', input, '--activation', 'identity']),
        run(['predict', '-m', TINY, '-i', input, '--activation', 'identity', '--max-length', '8']),
      ]);
      for (const result of [fromFile, fromStdin, identity, truncated]) expect(result.code, result.stderr).toBe(0);
      expect(fromStdin.stdout).toBe(fromFile.stdout);
      const logits = scoresOf(identity.stdout);
      scoresOf(fromFile.stdout).forEach((score, i) => expect(score).toBeCloseTo(1 / (1 + Math.exp(-logits[i])), 6));
      // 'a' / 'b' fits in 8 tokens, the long document does not.
      const cut = scoresOf(truncated.stdout);
      expectSameScores([cut[2]], [logits[2]]);
      expect(Math.abs(cut[5] - logits[5])).toBeGreaterThan(1e-3);
    },
    TIMEOUT,
  );

  it(
    'keeps the order: reversed input gives reversed output; blank lines are skipped',
    async () => {
      const reversed = [...PAIRS].reverse();
      const [forward, backward] = await Promise.all([
        run(['predict', '-m', TINY, '-i', '-', '--chunk-size', '2'], { stdin: pairLines(PAIRS) }),
        run(['predict', '-m', TINY, '-i', '-'], { stdin: `\n${pairLines(reversed).replace('\n', '\n\n  \n')}` }),
      ]);
      expect(forward.code, forward.stderr).toBe(0);
      expect(backward.code, backward.stderr).toBe(0);
      expectSameScores(scoresOf(backward.stdout), scoresOf(forward.stdout).reverse());
    },
    TIMEOUT,
  );

  it(
    'writes {"scores": [...]} for a model with several labels',
    async () => {
      const result = await run(['predict', '-m', testModel('tiny-3labels'), '-i', '-', '--activation', 'softmax'], { stdin: pairLines(PAIRS.slice(0, 2)) });
      expect(result.code, result.stderr).toBe(0);
      const records = jsonLines(result.stdout);
      expect(records).toHaveLength(2);
      for (const record of records) {
        expect(Object.keys(record)).toEqual(['scores']);
        const scores = record.scores as number[];
        expect(scores).toHaveLength(3);
        expect(scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
    },
    TIMEOUT,
  );

  it(
    'stops at a bad line with its line number and exit status 1, after scoring the lines before it',
    async () => {
      const good = pairLines(PAIRS.slice(0, 2));
      const badJson = await writeWorkFile('bad.jsonl', `${good}\n{"query": "q", "document": }\n${good}`);
      const result = await run(['predict', '-m', TINY, '-i', badJson]);
      expectError(result, 1, new RegExp(`${badJson.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: invalid JSON`));
      expect(jsonLines(result.stdout)).toHaveLength(2);

      const missing = await run(['predict', '-m', TINY, '-i', '-'], { stdin: `${good}{"query": "q", "text": "d"}\n` });
      expectError(missing, 1, /<stdin>:3: missing "document"/);

      const notAString = await run(['predict', '-m', TINY, '-i', '-'], { stdin: '{"query": 1, "document": "d"}\n' });
      expectError(notAString, 1, /<stdin>:1: "query" must be a string, got 1/);

      const array = await run(['predict', '-m', TINY, '-i', '-'], { stdin: '["q", "d"]\n' });
      expectError(array, 1, /<stdin>:1: expected a JSON object, got an array/);
    },
    TIMEOUT,
  );

  it(
    'reports a missing input file or model as a runtime error',
    async () => {
      const [noFile, noModel] = await Promise.all([
        run(['predict', '-m', TINY, '-i', path.join(work, 'nope.jsonl')]),
        run(['predict', '-m', path.join(work, 'no-model'), '-i', '-'], { stdin: pairLines(PAIRS) }),
      ]);
      expectError(noFile, 1, /cannot read .*nope\.jsonl: ENOENT/);
      expectError(noModel, 1, /No such directory: .*no-model/);
    },
    TIMEOUT,
  );
});

describe('crossencoder rank', () => {
  const QUERY = 'How many people live in Berlin?';
  const DOCS = ['Berlin is the capital of Germany.', 'New York City is huge.', 'Berlin has 3.5 million inhabitants.', 'Bananas are yellow.'];

  it(
    'ranks a .txt and a .jsonl file the same way, best first, with --top-k; scores are predict scores',
    async () => {
      const txt = await writeWorkFile('docs.txt', `${DOCS.slice(0, 2).join('\n')}\n\n${DOCS.slice(2).join('\r\n')}\r\n`);
      const jsonl = await writeWorkFile(
        'docs.jsonl',
        DOCS.map((doc, i) => `${JSON.stringify(i % 2 === 0 ? { document: doc } : { text: doc, id: i })}\n`).join(''),
      );
      const [fromTxt, fromJsonl, top2, predicted] = await Promise.all([
        run(['rank', '-m', TINY, '--query', QUERY, '--input', txt]),
        run(['rank', '-m', TINY, '-q', QUERY, '-i', jsonl]),
        run(['rank', '-m', TINY, '-q', QUERY, '-i', jsonl, '--top-k', '2']),
        run(['predict', '-m', TINY, '-i', '-'], { stdin: pairLines(DOCS.map((doc) => [QUERY, doc])) }),
      ]);
      for (const result of [fromTxt, fromJsonl, top2, predicted]) expect(result.code, result.stderr).toBe(0);

      const ranked = jsonLines(fromTxt.stdout) as { corpusId: number; score: number; text: string }[];
      expect(ranked).toHaveLength(DOCS.length);
      expect(ranked.map((r) => r.corpusId).sort()).toEqual([0, 1, 2, 3]);
      for (const r of ranked) expect(Object.keys(r)).toEqual(['corpusId', 'score', 'text']);
      for (const r of ranked) expect(r.text).toBe(DOCS[r.corpusId]);
      const predictedScores = scoresOf(predicted.stdout);
      expectSameScores(ranked.map((r) => r.score), ranked.map((r) => predictedScores[r.corpusId]));
      for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1].score).toBeGreaterThanOrEqual(ranked[i].score);

      expect(fromJsonl.stdout).toBe(fromTxt.stdout);
      expect(jsonLines(top2.stdout)).toEqual(ranked.slice(0, 2));
    },
    TIMEOUT,
  );

  it(
    'reads plain text from stdin, and rejects an unknown extension as a usage error',
    async () => {
      const [stdin, unknown, jsonlStdin] = await Promise.all([
        run(['rank', '-m', TINY, '-q', QUERY, '-i', '-', '-k', '1'], { stdin: DOCS.join('\n') }),
        run(['rank', '-m', TINY, '-q', QUERY, '-i', path.join(work, 'docs.csv')]),
        run(['rank', '-m', TINY, '-q', QUERY, '-i', '-', '--format', 'jsonl'], { stdin: '{"title": "x"}\n' }),
      ]);
      expect(stdin.code, stdin.stderr).toBe(0);
      expect(jsonLines(stdin.stdout)).toHaveLength(1);
      expectError(unknown, 2, /cannot tell the format of .*docs\.csv.*--format/);
      expectError(jsonlStdin, 1, /<stdin>:1: missing "document" or "text"/);
    },
    TIMEOUT,
  );
});

describe('crossencoder eval', () => {
  const SAMPLES = [
    { query: 'capital of France', positive: ['Paris is the capital of France.'], negative: ['Berlin is in Germany.', 'Bananas are yellow.'] },
    { query: 'largest planet', positive: 'Jupiter is the largest planet.', negative: ['The Moon orbits the Earth.'] },
    { query: 'python language', positive: ['Python is a programming language.', 'Guido created Python.'], negative: ['Snakes are reptiles.'] },
  ];

  it(
    'prints a metrics table and writes the metrics as JSON with --output',
    async () => {
      const data = await writeWorkFile('samples.jsonl', SAMPLES.map((s) => `${JSON.stringify(s)}\n`).join(''));
      const output = path.join(work, 'metrics', 'eval.json');
      const result = await run(['eval', '-m', TINY, '--data', data, '--at-k', '5', '--output', output]);
      expect(result.code, result.stderr).toBe(0);
      const metrics = JSON.parse(await readFile(output, 'utf8')) as Record<string, number>;
      expect(Object.keys(metrics)).toEqual(['map', 'mrr@5', 'ndcg@5']);
      for (const value of Object.values(metrics)) {
        expect(value).toBeGreaterThan(0);
        expect(value).toBeLessThanOrEqual(1);
      }
      const table = result.stdout.trim().split('\n');
      expect(table[0]).toMatch(/^metric\s+value$/);
      expect(table.slice(1).map((line) => line.split(/\s+/))).toEqual(Object.entries(metrics).map(([k, v]) => [k, v.toFixed(4)]));
    },
    TIMEOUT,
  );

  it(
    'reports base_* metrics for samples with documents, and names the line of a bad sample',
    async () => {
      const withDocuments = SAMPLES.map(({ query, positive, negative }) => ({ query, positive, documents: [...negative, ...[positive].flat()] }));
      const bad = [SAMPLES[0], { query: 'q', positive: ['x'], documents: [] }];
      const [good, invalid] = await Promise.all([
        run(['eval', '-m', TINY, '-d', '-'], { stdin: withDocuments.map((s) => JSON.stringify(s)).join('\n') }),
        run(['eval', '-m', TINY, '-d', '-'], { stdin: `\n${bad.map((s) => JSON.stringify(s)).join('\n\n')}` }),
      ]);
      expect(good.code, good.stderr).toBe(0);
      expect(good.stdout.split('\n').slice(1, -1).map((line) => line.split(/\s+/)[0])).toEqual([
        'map', 'mrr@10', 'ndcg@10', 'base_map', 'base_mrr@10', 'base_ndcg@10',
      ]);
      expectError(invalid, 1, /<stdin>:4: samples\[1\]\.documents must not be empty/);
    },
    TIMEOUT,
  );
});

describe('crossencoder train', () => {
  it(
    'trains 2 steps on the tiny model and writes a loadable model to <output>/final',
    async () => {
      const rows = [
        { query: 'capital of France', document: 'Paris is the capital of France.', label: 1 },
        { query: 'capital of France', document: 'Bananas are yellow.', label: 0 },
        { query: 'largest planet', document: 'Jupiter is the largest planet.', label: 1 },
        { query: 'largest planet', document: 'The Moon orbits the Earth.', label: 0 },
      ];
      const csv = `query,document,label\n${rows.map((r) => `${r.query},"${r.document}",${r.label}`).join('\n')}\n`;
      const trainFile = await writeWorkFile('train.csv', csv);
      const evalFile = await writeWorkFile('eval.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'));
      const output = path.join(work, 'trained');
      const result = await run([
        'train', '-m', TINY, '--train', trainFile, '--eval', evalFile, '--output', output,
        '--max-steps', '2', '--per-device-train-batch-size', '2', '--learning-rate', '1e-3',
        '--save-strategy', 'no', '--logging-steps', '1', '--disable-tqdm', '--no-logging-first-step',
      ]);
      expect(result.code, result.stderr).toBe(0);
      const finalDir = path.join(output, 'final');
      expect(result.stdout).toBe(`${finalDir}\n`);
      expect(result.stderr).toMatch(/trained 2 steps/);

      const [before, after] = await Promise.all([
        run(['predict', '-m', TINY, '-i', evalFile, '--activation', 'identity']),
        run(['predict', '-m', finalDir, '-i', evalFile, '--activation', 'identity']),
      ]);
      expect(after.code, after.stderr).toBe(0);
      expect(scoresOf(after.stdout)).toHaveLength(rows.length);
      // Two steps at lr 1e-3 move the weights: the saved model is the trained one, not a copy.
      expect(scoresOf(after.stdout)).not.toEqual(scoresOf(before.stdout));
    },
    TIMEOUT * 3,
  );

  it(
    'rejects unknown, mistyped and out-of-choice training flags as usage errors',
    async () => {
      const base = ['train', '-m', TINY, '--train', 'x.jsonl', '--output', path.join(work, 'never')];
      const [snake, notANumber, badChoice, contradiction, badExtension] = await Promise.all([
        run([...base, '--learning_rate', '1e-5']),
        run([...base, '--max-steps', 'two']),
        run([...base, '--lr-scheduler-type', 'exponential']),
        run([...base, '--disable-tqdm', '--no-disable-tqdm']),
        run(['train', '-m', TINY, '--train', 'rows.parquet', '--output', path.join(work, 'never')]),
      ]);
      expectError(snake, 2, /unknown option '--learning_rate' \(did you mean '--learning-rate'\?\)/);
      expectError(notANumber, 2, /--max-steps must be an integer, got "two"/);
      expectError(badChoice, 2, /--lr-scheduler-type must be one of linear, constant, constant_with_warmup, cosine/);
      expectError(contradiction, 2, /--disable-tqdm and --no-disable-tqdm contradict each other/);
      expectError(badExtension, 2, /--train rows\.parquet: expected a \.jsonl or \.csv file/);
      expect(existsSync(path.join(work, 'never'))).toBe(false);
    },
    TIMEOUT,
  );
});

describe('crossencoder download', () => {
  it(
    'fails clearly, without network, for a model missing from the cache when offline',
    async () => {
      const result = await run(['download', 'some-org/not-cached-model'], { env: { HF_HUB_CACHE: path.join(work, 'hub') } });
      expectError(result, 1, /some-org\/not-cached-model .*not in the Hugging Face cache.*HF_HUB_OFFLINE/);
    },
    TIMEOUT,
  );

  it(
    'prints the snapshot directory of a cached model when offline',
    async () => {
      const cache = path.join(work, 'hub-with-model');
      const commit = 'a'.repeat(40);
      const repo = path.join(cache, 'models--org--cached');
      const snapshot = path.join(repo, 'snapshots', commit);
      await mkdir(snapshot, { recursive: true });
      await mkdir(path.join(repo, 'refs'), { recursive: true });
      await writeFile(path.join(repo, 'refs', 'main'), commit);
      for (const file of ['config.json', 'model.safetensors', 'vocab.txt']) await writeFile(path.join(snapshot, file), '{}');
      const result = await run(['download', 'org/cached', '--cache-dir', cache]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(`${snapshot}\n`);
    },
    TIMEOUT,
  );
});

describe('usage', () => {
  it(
    'exits 2 with a clear message for an unknown command, an unknown flag, a missing value or option',
    async () => {
      const [command, unknownFlag, missingModel, missingInput, zeroBatch, extra, optionFirst] = await Promise.all([
        run(['frobnicate']),
        run(['predict', '--input', 'x.jsonl', '--bogus']),
        run(['predict', '--input', 'x.jsonl', '--model']),
        run(['predict', '--model', TINY]),
        run(['predict', '-i', 'x.jsonl', '--batch-size', '0']),
        run(['predict', '-i', 'x.jsonl', 'stray']),
        run(['--model', TINY]),
      ]);
      expectError(command, 2, /unknown command 'frobnicate'; commands: predict, rank, eval, train, launch, download, serve \(see 'crossencoder --help'\)/);
      expectError(unknownFlag, 2, /unknown option '--bogus' \(see 'crossencoder predict --help'\)/);
      expectError(missingModel, 2, /option '--model' needs a value: <path\|id>/);
      expectError(missingInput, 2, /missing --input <file>/);
      expectError(zeroBatch, 2, /--batch-size must be an integer ≥ 1, got 0/);
      expectError(extra, 2, /unexpected argument "stray"/);
      expectError(optionFirst, 2, /unknown option '--model'; options go after the command/);
    },
    TIMEOUT,
  );

  it(
    'prints help and the version, generated from the option specs',
    async () => {
      const [overall, predict, train, viaHelp, version] = await Promise.all([
        run(['--help']),
        run(['predict', '-h', '--bogus']),
        run(['train', '--help']),
        run(['help', 'rank']),
        run(['--version']),
      ]);
      for (const result of [overall, predict, train, viaHelp, version]) expect(result.code, result.stderr).toBe(0);
      expect(overall.stdout).toMatch(/Usage: crossencoder <command>/);
      for (const name of ['predict', 'rank', 'eval', 'train', 'download']) expect(overall.stdout).toContain(`  ${name} `);
      expect(predict.stdout).toMatch(/Usage: crossencoder predict --input/);
      expect(predict.stdout).toMatch(/-i, --input <file>/);
      expect(predict.stdout).toMatch(/-m, --model <path\|id> .*default cross-encoder\/ms-marco-MiniLM-L6-v2/);
      expect(train.stdout).toMatch(/--learning-rate <num> +learningRate \(default 0.00005\)/);
      expect(train.stdout).toMatch(/--\[no-\]load-best-model-at-end +loadBestModelAtEnd \(default false\)/);
      expect(train.stdout).toMatch(/--lr-scheduler-type <linear\|constant\|constant_with_warmup\|cosine>/);
      expect(viaHelp.stdout).toMatch(/Usage: crossencoder rank --query/);
      const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
      expect(version.stdout).toBe(`${pkg.version}\n`);
    },
    TIMEOUT,
  );

  it(
    'prints the stack trace only with CROSSENCODER_DEBUG=1',
    async () => {
      const args = ['predict', '-m', path.join(work, 'no-model'), '-i', '-'];
      const debug = await run(args, { env: { CROSSENCODER_DEBUG: '1' } });
      expect(debug.code).toBe(1);
      expect(debug.stderr).toMatch(/^crossencoder: No such directory/);
      expect(debug.stderr).toMatch(/\n\s+at /);
    },
    TIMEOUT,
  );
});

describe('helpers', () => {
  it('prints float32 scores with the fewest digits that read back as the same float32', () => {
    for (const value of [0.1, 1 / 3, -2.5e-7, 123456.789, 0.9999999]) {
      const f = Math.fround(value);
      const short = shortestFloat32(f);
      expect(Math.fround(short)).toBe(f);
      expect(String(short).replace(/^-|e.*$|\./g, '').replace(/^0+/, '').length).toBeLessThanOrEqual(9);
    }
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(Number.NaN)).toBeNaN();
  });

  it('has one flag per training argument (but outputDir, set by --output), typed', () => {
    const specs = trainingOptionSpecs();
    expect(Object.values(specs).map((spec) => spec.argument).sort()).toEqual(
      TRAINING_ARGUMENT_NAMES.filter((name) => name !== 'outputDir').sort(),
    );
    for (const [flagName, spec] of Object.entries(specs)) expect(flagName).toBe(kebabCase(spec.argument));
    const { values } = parseOptions('train', specs, [
      '--learning-rate', '2e-5', '--max-steps=-1', '--no-greater-is-better', '--eval-strategy', 'steps', '--metric-for-best-model', 'eval_map',
    ]);
    expect(trainingArgumentsFrom(specs, values)).toEqual({
      learningRate: 2e-5,
      maxSteps: -1,
      greaterIsBetter: false,
      evalStrategy: 'steps',
      metricForBestModel: 'eval_map',
    });
    expect(() => parseOptions('train', specs, ['--warmup-steps', '1.5'])).toThrow(UsageError);
  });

  it('suggests the closest flag for a typo, and nothing for a far-off word', () => {
    const flags = ['learning-rate', 'max-steps', 'model', 'input'];
    expect(suggest('learning_rate', flags)).toBe('learning-rate');
    expect(suggest('modle', flags)).toBe('model');
    expect(suggest('zzzzzz', flags)).toBeUndefined();
  });
});
