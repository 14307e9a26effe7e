/**
 * Running the benchmark's child processes: our worker (bench/worker.ts, bundled), the PyTorch
 * worker (bench/torch_worker.py), the ONNX Runtime worker (bench/ort_worker.ts, bundled) and the
 * sgemm peak. Each measurement is a fresh process, so its
 * peak RSS is its own and its thread variables are read by libgomp and OpenBLAS as they load.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { workerEnv } from './environment.js';
import { corpusFile, MODEL_DIR, ORT_WORKER_BUNDLE, planFile, PYTHON, ROOT, TORCH_WORKER, torchFile, WORKER_BUNDLE } from './paths.js';
import type { ForwardPlan, Workload, WorkerResult } from './workloads.js';

/**
 * Bundles `entry` and lib/ into one ES module at `outfile` (packages stay external and resolve
 * from the repository's node_modules), so it runs on plain node: tsx's loader thread would add
 * ~45 MB to its peak RSS.
 */
export async function bundle(entry: string, outfile: string): Promise<void> {
  const { build } = await import('esbuild');
  await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' });
}

/** bench/worker.ts, bundled (see {@link bundle}). */
export function bundleWorker(): Promise<void> {
  return bundle(path.join(ROOT, 'bench', 'worker.ts'), WORKER_BUNDLE);
}

/** bench/ort_worker.ts, bundled (onnxruntime-node stays external, loaded from node_modules). */
export function bundleOrtWorker(): Promise<void> {
  return bundle(path.join(ROOT, 'bench', 'ort_worker.ts'), ORT_WORKER_BUNDLE);
}

/** Runs a child to completion and parses the JSON object on the last line of its stdout. */
export function runChild(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`${path.basename(args[0])} ${args[1]} failed (status ${code}):\n${stderr.trim().slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(last));
    });
  });
}

const USER_HZ = 100; // /proc/stat's unit on Linux, whatever the kernel's HZ

/**
 * CPU time used on the machine so far, seconds: user, nice, system, irq, softirq, and steal
 * (time the hypervisor gave to other guests, invisible to the load average).
 */
function machineBusySeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / USER_HZ;
}

/** Runs a worker and measures how much of the machine other processes used meanwhile. */
async function runWorker(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<WorkerResult> {
  const busy = machineBusySeconds();
  const start = performance.now();
  const result = (await runChild(command, args, env)) as WorkerResult;
  const wall = (performance.now() - start) / 1000;
  const others = Math.max(0, machineBusySeconds() - busy - result.cpuSeconds);
  return { ...result, interference: others / (os.cpus().length * wall) };
}

/** Our side, with these thread variables on top of the user's environment. */
export function runOurs(workload: Workload, threads: Record<string, string>): Promise<WorkerResult> {
  return runWorker(process.execPath, [WORKER_BUNDLE, workload, corpusFile(workload), MODEL_DIR], workerEnv(threads));
}

/** The PyTorch side; predict and rank are cut into forwards as `plan` says (written to a file named after it). */
export function runTorch(workload: Workload, threads: Record<string, string>, plan?: { name: string; forwards: ForwardPlan }): Promise<WorkerResult> {
  const args = [TORCH_WORKER, workload, torchFile(workload)];
  if (workload !== 'train') {
    if (!plan) throw new Error(`the PyTorch ${workload} run needs a forward plan`);
    const file = planFile(workload, plan.name);
    writeFileSync(file, JSON.stringify(plan.forwards));
    args.push(file);
  }
  return runWorker(PYTHON, args, workerEnv(threads));
}

/** The ONNX Runtime side on `model` (predict and rank), cut into forwards as `plan` says (written to a file named after it). */
export function runOrt(workload: 'predict' | 'rank', model: string, threads: Record<string, string>, plan: { name: string; forwards: ForwardPlan }): Promise<WorkerResult> {
  const file = planFile(workload, plan.name);
  writeFileSync(file, JSON.stringify(plan.forwards));
  return runWorker(process.execPath, [ORT_WORKER_BUNDLE, workload, corpusFile(workload), MODEL_DIR, model, file], workerEnv(threads));
}

/** Best float32 torch.mm throughput (FLOP/s) of a size³ product. */
export interface Peaks {
  size: number;
  oneThread: number;
  twoThreads: number;
}

/**
 * The sgemm peak with 1 and 2 OpenBLAS threads. Measured before and after the workloads, the
 * best kept: a peak taken while another process held a core would put the workloads above 100%.
 */
export async function sgemmPeaks(size: number, earlier?: Peaks): Promise<Peaks> {
  const peak = async (threads: number) => {
    const env = workerEnv({ OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' });
    return ((await runChild(PYTHON, [TORCH_WORKER, 'sgemm', String(size)], env)) as { flops: number }).flops;
  };
  const oneThread = await peak(1);
  const twoThreads = await peak(2);
  return { size, oneThread: Math.max(oneThread, earlier?.oneThread ?? 0), twoThreads: Math.max(twoThreads, earlier?.twoThreads ?? 0) };
}
