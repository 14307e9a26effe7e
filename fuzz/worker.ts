/**
 * The fuzzer's child process: receives cases over IPC one after another, writes the case's model
 * directory (the seed layout with the mutated file), loads it with `CrossEncoder.fromPretrained`,
 * scores the case's pairs and reports how it went; service cases go to an in-process
 * `createRerankServer` with `app.inject`. The parent kills and restarts it on a crash, a hang or
 * an RSS over the cap. `FUZZ_PLANT` plants a bug (the fuzzer's own test, see test/fuzz.test.ts).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { CrossEncoder, CrossEncoderError } from '../lib/index.js';
import { createRerankServer, type RerankServer } from '../lib/serving/index.js';

import type { FuzzCase } from './cases.js';
import { readSeeds, seedDir } from './corpus.js';
import { ALLOCATION_FAILURE, type FromWorker, type Outcome, type OutcomeClass, type ToWorker } from './protocol.js';

const seeds = readSeeds();
const workDir = path.join(tmpdir(), `crossencoder-fuzz-${process.pid}`);
const plant = process.env.FUZZ_PLANT;
let server: RerankServer | undefined;

function send(message: FromWorker): void {
  process.send!(message);
}

const rssMb = () => process.memoryUsage.rss() / 2 ** 20;
const maxRssMb = () => process.resourceUsage().maxRSS / 1024;

function numbers(value: unknown, out: number[] = []): number[] {
  if (typeof value === 'number') out.push(value);
  else if (ArrayBuffer.isView(value)) out.push(...(value as Float32Array));
  else if (Array.isArray(value)) for (const item of value) numbers(item, out);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) numbers(item, out);
  return out;
}

function errorOutcome(error: unknown, phase: string): Omit<Outcome, 'ms'> {
  const e = error as { name?: string; code?: unknown; message?: string; stack?: string };
  const message = String(e?.message ?? error);
  let cls: OutcomeClass = error instanceof CrossEncoderError ? 'clean' : 'untyped';
  if (ALLOCATION_FAILURE.test(message)) cls = 'huge-allocation';
  return {
    class: cls,
    phase,
    errorName: e?.name,
    code: typeof e?.code === 'string' ? e.code : undefined,
    message: message.slice(0, 2000),
    detail: cls === 'clean' ? undefined : e?.stack?.split('\n').slice(0, 8).join('\n'),
  };
}

function writeCaseDir(fuzzCase: FuzzCase): string {
  if (fuzzCase.input.kind !== 'files') throw new Error('not a file case');
  const dir = path.join(workDir, 'model');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(seeds[fuzzCase.input.seedName])) {
    writeFileSync(path.join(dir, file), file === fuzzCase.input.file ? Buffer.from(fuzzCase.input.content, 'base64') : content);
  }
  return dir;
}

function plantedBug(fuzzCase: FuzzCase): void {
  if (plant === undefined || fuzzCase.index % 10 !== 3) return;
  if (plant === 'abort') process.abort();
  if (plant === 'hang') for (;;);
  if (plant === 'alloc') {
    const hold: Buffer[] = [];
    for (;;) hold.push(Buffer.alloc(64 * 2 ** 20, 1));
  }
  if (plant === 'untyped') throw new TypeError('planted untyped error');
  if (plant === 'exit') process.exit(3);
}

async function runFiles(fuzzCase: FuzzCase): Promise<Omit<Outcome, 'ms'>> {
  const dir = writeCaseDir(fuzzCase);
  let model: CrossEncoder;
  try {
    plantedBug(fuzzCase);
    model = await CrossEncoder.fromPretrained(dir);
  } catch (error) {
    return errorOutcome(error, 'load');
  }
  try {
    for (const pair of fuzzCase.pairs) {
      let scores: unknown;
      try {
        scores = await model.predict([pair]);
      } catch (error) {
        return errorOutcome(error, 'predict');
      }
      const values = numbers(scores);
      if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
        return { class: 'garbage', phase: 'predict', message: `scores ${JSON.stringify(values.slice(0, 8).map(String))}`, detail: `pair ${JSON.stringify(pair).slice(0, 300)}` };
      }
    }
    return { class: 'ok', phase: 'predict' };
  } finally {
    try {
      await model.dispose();
    } catch {
      // a dispose error would show in the next case; the outcome stands
    }
  }
}

async function runService(fuzzCase: FuzzCase): Promise<Omit<Outcome, 'ms'>> {
  if (fuzzCase.input.kind !== 'service') throw new Error('not a service case');
  plantedBug(fuzzCase);
  if (server === undefined) {
    const model = await CrossEncoder.fromPretrained(seedDir('safetensors'));
    server = createRerankServer({ model, collectDefaultMetrics: false, logger: false });
    await server.ready();
  }
  const { method, url, contentType, body } = fuzzCase.input;
  let response;
  try {
    response = await server.inject({ method, url, payload: body, headers: contentType === undefined ? {} : { 'content-type': contentType } });
  } catch (error) {
    return errorOutcome(error, 'request');
  }
  const status = response.statusCode;
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    return { class: 'bad-response', phase: 'request', status, message: `status ${status}, body not JSON: ${response.body.slice(0, 300)}` };
  }
  if (status >= 500) return { class: 'http-5xx', phase: 'request', status, message: `status ${status}: ${response.body.slice(0, 500)}` };
  if (status >= 400) {
    const errorBody = parsed as { error?: unknown; error_type?: unknown };
    if (typeof errorBody?.error !== 'string' || typeof errorBody?.error_type !== 'string') {
      return { class: 'bad-response', phase: 'request', status, message: `status ${status} without {error, error_type}: ${response.body.slice(0, 300)}` };
    }
    return { class: 'clean', phase: 'request', status, message: `${status} ${errorBody.error_type}: ${errorBody.error.slice(0, 300)}` };
  }
  // fast-json-stringify writes a non-finite number as null.
  if (numbers(parsed).some((v) => !Number.isFinite(v)) || /"(relevance_score|score)":null/.test(response.body)) {
    return { class: 'garbage', phase: 'request', status, message: `non-finite score: ${response.body.slice(0, 300)}` };
  }
  return { class: 'ok', phase: 'request', status };
}

async function run(fuzzCase: FuzzCase): Promise<Outcome> {
  const start = performance.now();
  let outcome: Omit<Outcome, 'ms'>;
  try {
    outcome = fuzzCase.input.kind === 'files' ? await runFiles(fuzzCase) : await runService(fuzzCase);
  } catch (error) {
    outcome = errorOutcome(error, 'worker');
  }
  return { ...outcome, ms: performance.now() - start, maxRssMb: maxRssMb() };
}

process.on('message', (message: ToWorker) => {
  if (message.type !== 'case') return;
  void run(message.fuzzCase).then((outcome) => send({ type: 'result', index: message.fuzzCase.index, outcome, rssMb: rssMb() }));
});
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));
process.on('disconnect', () => process.exit(0));

// Load the addon (and warm libtorch) before the first case, so the first case's time is its own.
const warm = await CrossEncoder.fromPretrained(seedDir('safetensors'));
await warm.predict([['a', 'b']]);
await warm.dispose();
send({ type: 'ready', rssMb: rssMb() });
