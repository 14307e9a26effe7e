/** Where the benchmark's inputs, generated files and interpreters are. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Workload } from './workloads.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BENCH_DIR = path.join(ROOT, 'bench');
export const CACHE = path.join(BENCH_DIR, '.cache');
/** The benchmark's own ONNX Runtime install (bench/ort/package.json). */
export const ORT_DIR = path.join(BENCH_DIR, 'ort');
export const MODELS = path.join(ROOT, 'test', '.models');
export const MODEL_DIR = path.join(MODELS, 'minilm-l6');
export const PYTHON = '/usr/bin/python3';
export const TORCH_WORKER = path.join(ROOT, 'bench', 'torch_worker.py');
/** bench/worker.ts bundled by esbuild (bench/workers.ts). */
export const WORKER_BUNDLE = path.join(CACHE, 'worker.mjs');

/** The texts our worker reads. */
export const corpusFile = (workload: Workload) => path.join(CACHE, `corpus-${workload}.json`);
/** The token ids the PyTorch worker reads. */
export const torchFile = (workload: Workload) => path.join(CACHE, `torch-${workload}.json`);
/** How the PyTorch worker cuts predict's or rank's calls into forwards (bench/forwards.ts). */
export const planFile = (workload: Workload, plan: string) => path.join(CACHE, `forwards-${workload}-${plan}.json`);

/** lib/cli/index.ts bundled (bench/serve.ts): `crossencoder serve` on plain node, as a user runs it. */
export const SERVE_BUNDLE = path.join(CACHE, 'serve.mjs');
/** bench/serve-in-process.ts bundled: the same requests through rank() in one process. */
export const IN_PROCESS_BUNDLE = path.join(CACHE, 'serve-in-process.mjs');
/** The 20-document requests both sides send. */
export const SERVE_REQUESTS = path.join(CACHE, 'serve-requests.json');

/** bench/ort_worker.ts bundled (bench/workers.ts): the ONNX Runtime side. */
export const ORT_WORKER_BUNDLE = path.join(CACHE, 'ort-worker.mjs');
/** Exports the benchmark model to ONNX (bench/onnx-model.ts runs it). */
export const EXPORT_SCRIPT = path.join(ROOT, 'bench', 'export_onnx.py');
/**
 * The exported model (float32, or int8 dynamically quantised), one padded batch with PyTorch's
 * logits for it, and what it was exported from.
 */
export function onnxFiles(quantized: boolean): { model: string; check: string; stamp: string } {
  const base = path.join(CACHE, quantized ? 'minilm-l6-int8' : 'minilm-l6');
  return { model: `${base}.onnx`, check: `${base}.onnx-check.json`, stamp: `${base}.onnx-stamp.json` };
}
