/**
 * One measurement on the ONNX Runtime side (onnxruntime-node, CPU execution provider), in a
 * process of its own like bench/worker.ts:
 *
 *     node bench/.cache/ort-worker.mjs <predict|rank> <corpus-WORKLOAD.json> <modelDir> <model.onnx> <forwards.json>
 *
 * It starts from the same raw strings as our worker and tokenises them inside the timed part
 * with the library's tokenizer (@huggingface/tokenizers underneath, the same ids by
 * construction), sorts each call's pairs longest first as CrossEncoder.predict does, and runs
 * them in the forwards forwards.json gives (the ones our worker recorded, or whole batches),
 * each padded to its longest pair. Threads: BENCH_ORT_INTRA_OP (intraOpNumThreads) and
 * BENCH_ORT_SPINNING ("0" turns off the intra-op pool's spin-waiting), set by bench/settings.ts.
 * Prints one JSON line (a WorkerResult).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

// The tokenizer module itself, not lib/index.js: that would load the libtorch addon (~160 MB RSS).
import { CrossEncoderTokenizer, type PairEncoding } from '../lib/tokenizer/tokenizer.js';

import { loadOrt } from './onnx-model.js';
import { type CorpusSlice, type ForwardPlan, RANK_WARMUP_REPEATS, type Shape, type WorkerResult } from './workloads.js';

const ort = loadOrt();
type Session = Awaited<ReturnType<typeof ort.InferenceSession.create>>;

const seconds = (start: number): number => (performance.now() - start) / 1000;

interface Scorer {
  session: Session;
  tokenizer: CrossEncoderTokenizer;
  maxLength: number;
}

/** One forward: the pairs padded to the longest, as int64 tensors; its logits (one label). */
async function forward(scorer: Scorer, encodings: readonly PairEncoding[]): Promise<Float32Array> {
  const batchSize = encodings.length;
  const seqLength = encodings.reduce((longest, e) => Math.max(longest, e.inputIds.length), 0);
  const ids = new BigInt64Array(batchSize * seqLength).fill(BigInt(scorer.tokenizer.padTokenId));
  const mask = new BigInt64Array(batchSize * seqLength);
  const types = new BigInt64Array(batchSize * seqLength);
  encodings.forEach((e, row) => {
    const base = row * seqLength;
    for (let i = 0; i < e.inputIds.length; i++) {
      ids[base + i] = BigInt(e.inputIds[i]);
      types[base + i] = BigInt(e.tokenTypeIds[i]);
      mask[base + i] = 1n;
    }
  });
  const dims = [batchSize, seqLength];
  const { logits } = await scorer.session.run({
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
    token_type_ids: new ort.Tensor('int64', types, dims),
  });
  return logits.data as Float32Array;
}

/**
 * One predict or rank call from raw strings: tokenise, sort longest first (stable, as
 * CrossEncoder.predict), run the forwards of `sizes`, scores back in input order; rank's caller
 * then sorts them, which costs the same as on the other sides. Returns the shapes it ran.
 */
async function call(scorer: Scorer, pairs: readonly { query: string; document: string }[], sizes: readonly number[]): Promise<Shape[]> {
  const encodings = pairs.map((p) => scorer.tokenizer.encodePair(p.query, p.document, scorer.maxLength));
  const order = encodings.map((_, i) => i).sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length);
  if (sizes.reduce((a, b) => a + b, 0) !== order.length) throw new Error(`the forward plan covers ${sizes.reduce((a, b) => a + b, 0)} pairs, the call has ${order.length}`);
  const scores = new Float32Array(order.length);
  const shapes: Shape[] = [];
  let start = 0;
  for (const size of sizes) {
    const rows = order.slice(start, start + size);
    const batch = rows.map((i) => encodings[i]);
    const logits = await forward(scorer, batch);
    rows.forEach((i, k) => (scores[i] = logits[k]));
    shapes.push([size, batch.reduce((longest, e) => Math.max(longest, e.inputIds.length), 0)]);
    start += size;
  }
  Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]);
  return shapes;
}

function part<K extends 'predict' | 'rank'>(corpus: CorpusSlice, key: K): NonNullable<CorpusSlice[K]> {
  const value = corpus[key];
  if (value === undefined) throw new Error(`the corpus file has no "${key}" texts`);
  return value as NonNullable<CorpusSlice[K]>;
}

async function predict(scorer: Scorer, corpus: CorpusSlice, plan: ForwardPlan): Promise<Partial<WorkerResult>> {
  const warmup = [await call(scorer, corpus.warmup, plan.warmup[0])];
  const pairs = part(corpus, 'predict');
  const start = performance.now();
  const measured = [await call(scorer, pairs, plan.calls[0])];
  return { seconds: seconds(start), pairs: pairs.length, forwards: { warmup, measured } };
}

async function rank(scorer: Scorer, corpus: CorpusSlice, plan: ForwardPlan): Promise<Partial<WorkerResult>> {
  const calls = part(corpus, 'rank');
  const warmupDocuments = corpus.warmup.slice(0, calls[0].documents.length).map((row) => row.document);
  const warmup: Shape[][] = [];
  for (let i = 0; i < RANK_WARMUP_REPEATS; i++) {
    const query = corpus.warmup[i].query;
    warmup.push(await call(scorer, warmupDocuments.map((document) => ({ query, document })), plan.warmup[i]));
  }
  const latencies: number[] = [];
  const measured: Shape[][] = [];
  for (const [i, { query, documents }] of calls.entries()) {
    const start = performance.now();
    measured.push(await call(scorer, documents.map((document) => ({ query, document })), plan.calls[i]));
    latencies.push(seconds(start));
  }
  const pairs = calls.reduce((sum, c) => sum + c.documents.length, 0);
  return { seconds: latencies.reduce((a, b) => a + b, 0), pairs, latencies, forwards: { warmup, measured } };
}

async function main(): Promise<void> {
  const [workload, corpusFile, modelDir, onnxFile, planFile] = process.argv.slice(2);
  if ((workload !== 'predict' && workload !== 'rank') || !corpusFile || !modelDir || !onnxFile || !planFile) {
    throw new Error('usage: ort-worker <predict|rank> <corpus-WORKLOAD.json> <modelDir> <model.onnx> <forwards.json>');
  }
  const corpus = JSON.parse(await readFile(corpusFile, 'utf8')) as CorpusSlice;
  const plan = JSON.parse(await readFile(planFile, 'utf8')) as ForwardPlan;
  const config = JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8')) as { max_position_embeddings: number };
  const tokenizer = await CrossEncoderTokenizer.fromDirectory(modelDir);
  // CrossEncoder's default maxLength (lib/model/cross-encoder.ts resolveMaxLength).
  const maxLength = Math.min(tokenizer.modelMaxLength ?? config.max_position_embeddings, config.max_position_embeddings);
  const intraOp = Number(process.env.BENCH_ORT_INTRA_OP ?? '1');
  const spinning = process.env.BENCH_ORT_SPINNING !== '0';
  const session = await ort.InferenceSession.create(onnxFile, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: intraOp,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } },
  });
  const scorer: Scorer = { session, tokenizer, maxLength };
  const measured = await (workload === 'predict' ? predict : rank)(scorer, corpus, plan);
  const result: WorkerResult = {
    side: 'onnxruntime',
    workload,
    seconds: 0,
    pairs: 0,
    forwards: { warmup: [], measured: [] },
    ...measured,
    maxRssKiB: process.resourceUsage().maxRSS,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    // ONNX Runtime has its own thread pool and its own GEMM (MLAS): no OpenMP, no OpenBLAS.
    threads: { intraOp, blas: 'MLAS', waitPolicy: spinning ? 'ORT spinning' : 'ORT no spinning' },
    torchVersion: `onnxruntime ${ort.env.versions.node ?? 'unknown'}`,
    blas: 'MLAS',
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
