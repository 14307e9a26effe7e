/**
 * A model's lifecycle and long calls: dispose() freeing native memory at once (and what happens to
 * calls before and after it), AbortSignal stopping predict/rank between forwards, predictStream
 * over an input read lazily, and Ctrl-C during `crossencoder train`.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  AbortError,
  CrossEncoder,
  CrossEncoderError,
  CrossEncoderTrainer,
  DisposedError,
  InvalidArgumentError,
  type Pair,
} from '../lib/index.js';
import { observeNativeBatches } from '../lib/internal.js';
import { bertNativeConfig } from '../lib/model/families/bert.js';
import { NativeModel } from '../lib/native.js';

import { testModel } from './helpers/models.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'lib/cli/index.ts');

const pairsOf = (count: number, offset = 0): Pair[] =>
  Array.from({ length: count }, (_, i) => [`query ${i + offset}`, `document number ${i + offset} ${'word '.repeat((i * 7) % 40)}`]);

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error as Error,
  );
}

let tiny: CrossEncoder<1>;
let work: string;
beforeAll(async () => {
  tiny = await CrossEncoder.fromPretrained(testModel('tiny'), { numLabels: 1 });
  await tiny.predict(pairsOf(4));
  work = await mkdtemp(path.join(tmpdir(), 'tce-lifecycle-'));
});
afterAll(async () => {
  observeNativeBatches(undefined);
  await rm(work, { recursive: true, force: true });
});

describe('dispose()', () => {
  // First in the file, so that little else has touched the allocator since the baseline.
  it('frees the native memory at once (MiniLM-L6, ~90 MB of weights)', async () => {
    const rss = () => process.memoryUsage().rss;
    const before = rss();
    const model = await CrossEncoder.fromPretrained(testModel('minilm-l6'));
    await model.predict(pairsOf(2));
    const loaded = rss();
    await model.dispose();
    const disposed = rss();
    const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;
    const report = `RSS before ${mb(before)}, loaded ${mb(loaded)}, disposed ${mb(disposed)}`;
    expect(loaded - before, report).toBeGreaterThan(80e6);
    // Without malloc_trim the freed weights stay in glibc's arenas (about a third came back).
    expect(loaded - disposed, report).toBeGreaterThan(0.7 * (loaded - before));
  });

  it('reports its native memory to V8: models dropped without dispose() are collected before RSS runs away', async () => {
    // V8 sees a small JS object per model; only the reported ~90 MB each make it collect them.
    // Unreported, 40 MiniLM-L6-sized models reached 3.9 GB here; reported, 0.7 GB.
    const config = bertNativeConfig(JSON.parse(await readFile(path.join(testModel('minilm-l6'), 'config.json'), 'utf8')), 1, 'config.json');
    const before = process.memoryUsage().rss;
    let peak = before;
    for (let i = 0; i < 40; i++) {
      new NativeModel(config); // dropped on purpose
      await new Promise((resolve) => setImmediate(resolve)); // finalizers run between turns
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(peak - before, `RSS rose ${Math.round((peak - before) / 1e6)} MB`).toBeLessThan(1.5e9);
  });

  it('200 load / dispose cycles keep RSS flat', async () => {
    const cycle = async () => {
      const model = await CrossEncoder.fromPretrained(testModel('tiny'));
      await model.predict(pairsOf(2));
      await model.dispose();
    };
    for (let i = 0; i < 20; i++) await cycle(); // warm: allocator arenas, JIT, tokenizer caches
    const warm = process.memoryUsage().rss;
    for (let i = 0; i < 180; i++) await cycle();
    const grown = process.memoryUsage().rss - warm;
    // A leak of the weights alone would be 180 × 4 MB.
    expect(grown, `RSS grew ${Math.round(grown / 1e6)} MB over 180 cycles`).toBeLessThan(60e6);
  });

  it('lets calls already running finish, then rejects every later call with a DisposedError', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const expected = await tiny.predict(pairsOf(300), { batchSize: 8 });
    const running = model.predict(pairsOf(300), { batchSize: 8 });
    const disposal = model.dispose();
    expect(model.dispose()).toBe(disposal); // idempotent
    expect(await running).toEqual(expected);
    await disposal;

    const calls: Array<[string, () => unknown]> = [
      ['predict()', () => model.predict(pairsOf(1))],
      ['rank()', () => model.rank('q', ['d'])],
      ['savePretrained()', () => model.savePretrained(path.join(work, 'never'))],
      ['forward()', () => model.forward([model.tokenizer.encodePair('q', 'd', 16)])],
    ];
    for (const [what, call] of calls) {
      const error = await rejection(Promise.resolve().then(call));
      expect(error, what).toBeInstanceOf(DisposedError);
      expect((error as DisposedError).code).toBe('ERR_DISPOSED');
      expect(error.message).toContain(`${what}: the model was disposed`);
    }
    expect(() => model.predictStream([])).toThrow(DisposedError);
  });

  it('stops a trainer over the model: train() rejects with a DisposedError, before any step', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const steps: number[] = [];
    const trainer = new CrossEncoderTrainer({
      model,
      trainDataset: [{ query: 'q', document: 'd', label: 1 }],
      args: { outputDir: path.join(work, 'disposed-run'), disableTqdm: true, maxSteps: 2 },
      callbacks: [{ onStepEnd: ({ state }) => void steps.push(state.globalStep) }],
    });
    await trainer.train();
    await model.dispose();
    const error = await rejection(trainer.train());
    expect(error).toBeInstanceOf(DisposedError);
    expect(error.message).toMatch(/the trainer: the model was disposed/);
    expect(steps).toEqual([1, 2]);
  });

  it('runs at the end of an `await using` block (Symbol.asyncDispose)', async () => {
    let escaped: CrossEncoder | undefined;
    {
      await using model = await CrossEncoder.fromPretrained(testModel('tiny'));
      escaped = model;
      expect(await model.predict(pairsOf(1))).toHaveLength(1);
    }
    await expect(escaped.predict(pairsOf(1))).rejects.toThrow(DisposedError);
  });
});

describe('signal: AbortSignal', () => {
  it('stops predict between two forward passes', async () => {
    const controller = new AbortController();
    let forwards = 0;
    observeNativeBatches((kind) => {
      if (kind === 'forward' && ++forwards === 2) controller.abort();
    });
    try {
      const error = await rejection(tiny.predict(pairsOf(200), { batchSize: 10, signal: controller.signal }));
      expect(error).toBeInstanceOf(AbortError);
      expect(error).toBeInstanceOf(CrossEncoderError);
      expect(error.name).toBe('AbortError');
      expect((error as AbortError).code).toBe('ABORT_ERR');
      expect(error.message).toMatch(/^predict\(\) of 200 pairs, after 20: aborted/);
      expect(error.cause).toBe(controller.signal.reason);
    } finally {
      observeNativeBatches(undefined);
    }
    // It stopped right away: the third forward was never asked for.
    expect(forwards).toBe(2);
  });

  it('runs nothing when the signal is already aborted, and stops rank() too', async () => {
    let forwards = 0;
    observeNativeBatches(() => void forwards++);
    try {
      const aborted = AbortSignal.abort();
      await expect(tiny.predict(pairsOf(5), { signal: aborted })).rejects.toThrow(AbortError);
      await expect(tiny.rank('q', ['a', 'b'], { signal: aborted })).rejects.toThrow(AbortError);
      await expect(tiny.predict(pairsOf(5), { signal: aborted, longDocuments: {} })).rejects.toThrow(/long-document pairs, while cutting windows: aborted/);
      await expect(tiny.predict(pairsOf(5), { signal: AbortSignal.timeout(60_000) })).resolves.toHaveLength(5);
    } finally {
      observeNativeBatches(undefined);
    }
    expect(forwards).toBe(1);
  });

  it('must be an AbortSignal', async () => {
    const error = await rejection(tiny.predict(pairsOf(1), { signal: 'stop' as never }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/options\.signal must be an AbortSignal/);
  });
});

describe('predictStream()', () => {
  it('scores pairs read lazily, in order, holding at most one chunk ahead of the consumer', async () => {
    const total = 500;
    const chunkSize = 64;
    let pulled = 0;
    async function* source(): AsyncGenerator<Pair> {
      for (const pair of pairsOf(total)) {
        pulled++;
        yield pair;
      }
    }
    const streamed: number[] = [];
    let maxAhead = 0;
    for await (const score of tiny.predictStream(source(), { chunkSize, batchSize: 16 })) {
      streamed.push(score);
      maxAhead = Math.max(maxAhead, pulled - streamed.length);
    }
    expect(streamed).toHaveLength(total);
    expect(maxAhead).toBeLessThanOrEqual(chunkSize);
    // The same scores as one predict over everything (batches differ: float rounding only).
    const all = await tiny.predict(pairsOf(total), { batchSize: 16 });
    streamed.forEach((score, i) => expect(score).toBeCloseTo(all[i], 5));
  });

  it('scores the lines of a JSONL file as they are read', async () => {
    const file = path.join(work, 'pairs.jsonl');
    const pairs = pairsOf(150, 1000);
    await writeFile(file, pairs.map(([query, document]) => JSON.stringify({ query, document })).join('\n'));
    async function* fromFile(): AsyncGenerator<Pair> {
      for await (const line of createInterface({ input: createReadStream(file) })) {
        const { query, document } = JSON.parse(line) as { query: string; document: string };
        yield [query, document];
      }
    }
    const streamed: number[] = [];
    for await (const score of tiny.predictStream(fromFile(), { chunkSize: 32 })) streamed.push(score);
    const expected = await tiny.predict(pairs);
    expect(streamed).toHaveLength(pairs.length);
    streamed.forEach((score, i) => expect(score).toBeCloseTo(expected[i], 5));
  });

  it('yields one Float32Array per pair for several labels, and takes plain iterables', async () => {
    const tiny3 = await CrossEncoder.fromPretrained(testModel('tiny-3labels'), { numLabels: 3 });
    const rows: Float32Array[] = [];
    for await (const row of tiny3.predictStream(pairsOf(10), { chunkSize: 4 })) rows.push(row);
    expect(rows).toHaveLength(10);
    expect(rows.every((row) => row instanceof Float32Array && row.length === 3)).toBe(true);
    const expected = await tiny3.predict(pairsOf(10));
    rows.forEach((row, i) => row.forEach((score, label) => expect(score).toBeCloseTo(expected[i][label], 5)));
  });

  it('names a bad pair by its position in the stream, after scoring the chunks before it', async () => {
    const pairs: unknown[] = [...pairsOf(7), ['only one']];
    const seen: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const score of tiny.predictStream(pairs as Pair[], { chunkSize: 3 })) seen.push(score);
      })(),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/^pairs\[7\] must be a \[query, document\] pair/);
    expect(seen).toHaveLength(6);
    expect(() => tiny.predictStream(42 as never)).not.toThrow(); // checked when iterated
    await expect(tiny.predictStream(42 as never).next()).rejects.toThrow(/must be an iterable/);
    expect(() => tiny.predictStream([], { chunk_size: 3 } as never)).toThrow(/unknown option 'chunk_size' \(did you mean 'chunkSize'\?\)/);
  });
});

describe('Ctrl-C during `crossencoder train`', () => {
  /** Starts the CLI; resolves once `ready(stderr)` holds, with a promise of its exit. */
  function startCli(args: string[], ready: (stderr: string) => boolean) {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 100_000);
    const readyPromise = new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (ready(stderr)) resolve();
      });
    });
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>((resolve) =>
      child.on('close', (code, signal) => {
        clearTimeout(guard);
        resolve({ code, signal, stderr, stdout });
      }),
    );
    return { child, ready: Promise.race([readyPromise, exit]), exit };
  }

  const loggedSteps = (stderr: string) =>
    [...stderr.matchAll(/^\{.*"step":(\d+).*\}$/gm)].map((match) => Number(match[1])).filter((step) => step > 0);

  it('stops after the step in progress, saves it, and says how to resume', async () => {
    const rows = path.join(work, 'rows.jsonl');
    const output = path.join(work, 'ctrl-c-run');
    await writeFile(rows, [0, 1, 2, 3].map((i) => JSON.stringify({ query: `q${i}`, document: `d${i}`, label: i % 2 })).join('\n'));
    const args = ['train', '--model', testModel('tiny'), '--train', rows, '--output', output, '--max-steps', '100000', '--logging-steps', '1', '--per-device-train-batch-size', '2'];

    const run = startCli(args, (stderr) => loggedSteps(stderr).length >= 3);
    await run.ready;
    run.child.kill('SIGINT');
    const { code, signal, stderr } = await run.exit;
    expect({ code, signal }, stderr).toEqual({ code: 130, signal: null });
    const stopped = /crossencoder: interrupted: training stopped at step (\d+) of 100000; (\S+) holds step (\d+)\. Resume with: (.*)$/m.exec(stderr);
    expect(stopped, stderr).not.toBeNull();
    const [, step, checkpoint, savedStep, command] = stopped!;
    expect(savedStep).toBe(step);
    expect(checkpoint).toBe(path.join(output, `checkpoint-${step}`));
    expect(Number(step)).toBeGreaterThanOrEqual(3);
    const state = JSON.parse(await readFile(path.join(checkpoint, 'trainer_state.json'), 'utf8')) as { global_step: number };
    expect(state.global_step).toBe(Number(step));
    expect(command).toBe(['crossencoder', ...args, '--resume-from-checkpoint', 'latest'].join(' '));

    // The command it printed continues from the next step.
    const resumed = startCli([...args, '--resume-from-checkpoint', 'latest'], (text) => loggedSteps(text).length >= 1);
    await resumed.ready;
    resumed.child.kill('SIGINT');
    const again = await resumed.exit;
    expect(loggedSteps(again.stderr)[0], again.stderr).toBe(Number(step) + 1);
    expect(again.code, again.stderr).toBe(130);
  });
});
