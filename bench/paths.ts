/** Where the benchmark's inputs, generated files and interpreters are. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Workload } from './workloads.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CACHE = path.join(ROOT, 'bench', '.cache');
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
