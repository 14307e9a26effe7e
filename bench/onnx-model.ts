/**
 * The ONNX Runtime side's model: the benchmark model exported to ONNX by bench/export_onnx.py
 * (plain-PyTorch reference BERT, same weights), cached in bench/.cache and re-exported only when
 * the weights, the config or the export script change. Right after an export, ONNX Runtime runs
 * the batch the script wrote with PyTorch's logits, and the largest difference is printed: a
 * broken export must not be benchmarked.
 *
 * Opt-in (--ort-quantized): the model with the encoder's Linear layers dynamically quantised to
 * int8 (bench/onnx_quantize.py). Its logits are checked against the same quantised arithmetic
 * run in PyTorch, with a looser bound (rounding ties of the activations' quantisation differ and
 * compound over the layers), and its distance from the float model's is printed: what int8 costs.
 *
 * onnxruntime-node is the benchmark's own dependency (bench/ort/package.json, installed on first use);
 * when it cannot be installed or loaded, the ONNX Runtime column is skipped with the reason, not
 * the whole run.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { workerEnv } from './environment.js';
import { EXPORT_SCRIPT, MODEL_DIR, onnxFiles, ORT_DIR, PYTHON } from './paths.js';

export type Ort = typeof import('onnxruntime-node');

/** Fails the export above this: the check batch differed by ~1e-6 here (float32 rounding). */
const MAX_ABS_DIFF = 1e-4;
/** The int8 model against PyTorch running the same int8 arithmetic: ~1e-2 here; a wrong graph is off by ~1. */
const MAX_ABS_DIFF_INT8 = 0.1;

/** onnxruntime-node, from bench/ort/node_modules (bench/ort/package.json). */
export function loadOrt(): Ort {
  return createRequire(path.join(process.env.BENCH_ORT_DIR ?? ORT_DIR, 'package.json'))('onnxruntime-node') as Ort;
}

/**
 * Why onnxruntime-node cannot be used, or undefined when it loads. It is the benchmark's own
 * dependency (bench/ort/package.json), installed into bench/ort/node_modules on first use rather than by
 * the package's `npm install`: its postinstall downloads CUDA binaries from a host a user may not
 * reach, and skipping it (ONNXRUNTIME_NODE_INSTALL=skip) is only ours to ask here. The CPU binary
 * the benchmark uses ships in its tarball.
 */
export function ortMissing(): string | undefined {
  const load = () => {
    try {
      loadOrt();
      return undefined;
    } catch (error) {
      return (error as Error).message.split('\n')[0];
    }
  };
  if (load() === undefined) return undefined;
  console.error('bench: installing onnxruntime-node into bench/ort/node_modules (npm install --prefix bench/ort)…');
  const npm = spawnSync('npm', ['install', '--prefix', ORT_DIR, '--no-audit', '--no-fund', '--no-package-lock'], {
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const message = load();
  if (message === undefined) return undefined;
  return `onnxruntime-node does not load (${message}; npm install --prefix bench/ort exited ${npm.status})`;
}

/** What the export depends on: a new hash means a new export. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const scripts = [EXPORT_SCRIPT, path.join(path.dirname(EXPORT_SCRIPT), 'onnx_quantize.py')];
  for (const file of [path.join(MODEL_DIR, 'model.safetensors'), path.join(MODEL_DIR, 'config.json'), ...scripts]) {
    hash.update(readFileSync(file));
  }
  return hash.digest('hex');
}

interface Stamp {
  source: string;
  maxAbsDiff: number;
  /** The int8 model only: against the float model's logits. */
  maxAbsDiffFromFloat?: number;
  torchVersion: string;
}

interface CheckFile {
  inputs: Record<string, number[][]>;
  /** PyTorch's logits for the exported arithmetic (float, or the int8 arithmetic). */
  logits: number[][];
  floatLogits: number[][];
  torchVersion: string;
}

const maxDiff = (expected: readonly number[], got: Float32Array) => expected.reduce((worst, value, i) => Math.max(worst, Math.abs(value - got[i])), 0);

/** ONNX Runtime's logits on the check batch against PyTorch's: the largest absolute difference. */
async function checkExport(ort: Ort, files: ReturnType<typeof onnxFiles>): Promise<Omit<Stamp, 'source'>> {
  const check = JSON.parse(readFileSync(files.check, 'utf8')) as CheckFile;
  const session = await ort.InferenceSession.create(files.model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
    for (const [name, rows] of Object.entries(check.inputs)) {
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
    }
    const { logits } = await session.run(feeds);
    const got = logits.data as Float32Array;
    const expected = check.logits.flat();
    if (got.length !== expected.length) throw new Error(`the ONNX model gave ${got.length} logits for the check batch, PyTorch ${expected.length}`);
    return { maxAbsDiff: maxDiff(expected, got), maxAbsDiffFromFloat: maxDiff(check.floatLogits.flat(), got), torchVersion: check.torchVersion };
  } finally {
    await session.release();
  }
}

/**
 * The exported model's path, exporting it first when the cache is stale; or why the ONNX Runtime
 * side cannot run (`torchMissing`: PyTorch is needed only to export).
 */
export async function ensureOnnxModel(
  torchMissing: string | undefined,
  quantized: boolean,
  log: (line: string) => void,
): Promise<{ model: string } | { skipped: string }> {
  const reason = ortMissing();
  if (reason) return { skipped: reason };
  const files = onnxFiles(quantized);
  const source = sourceHash();
  const stamp = existsSync(files.stamp) ? (JSON.parse(readFileSync(files.stamp, 'utf8')) as Stamp) : undefined;
  if (stamp?.source === source && existsSync(files.model)) return { model: files.model };
  if (torchMissing !== undefined) return { skipped: `exporting the model to ONNX needs PyTorch (${torchMissing})` };

  const kind = quantized ? 'int8 dynamically quantised' : 'float32';
  log(`exporting ${path.basename(MODEL_DIR)} to ONNX, ${kind} (${path.basename(EXPORT_SCRIPT)})…`);
  const args = [EXPORT_SCRIPT, ...(quantized ? ['--quantize'] : []), MODEL_DIR, files.model, files.check];
  const result = spawnSync(PYTHON, args, { encoding: 'utf8', env: workerEnv({ OMP_WAIT_POLICY: 'PASSIVE' }) });
  if (result.status !== 0) return { skipped: `export_onnx.py failed (status ${result.status}): ${result.stderr.trim().slice(-1000)}` };
  const checked = await checkExport(loadOrt(), files);
  const bound = quantized ? MAX_ABS_DIFF_INT8 : MAX_ABS_DIFF;
  const against = quantized ? 'the same int8 arithmetic in PyTorch' : `PyTorch ${checked.torchVersion}`;
  const fromFloat = quantized ? `; from the float model's logits: ${checked.maxAbsDiffFromFloat?.toExponential(2)}` : '';
  log(`ONNX export checked on an 8×64 padded batch: max abs diff against ${against}: ${checked.maxAbsDiff.toExponential(2)}${fromFloat}`);
  if (!(checked.maxAbsDiff <= bound)) return { skipped: `the ONNX export's logits differ from PyTorch's by ${checked.maxAbsDiff} (> ${bound})` };
  writeFileSync(files.stamp, JSON.stringify({ source, ...checked } satisfies Stamp));
  return { model: files.model };
}
