/**
 * The thread settings the benchmark tries on each side. A user choosing between this package
 * and PyTorch would run each at its best, so each workload is measured on each side at every
 * setting below and the best run is compared; the others are printed, so a reader sees what was
 * tried.
 *
 * On a small machine the settings that matter (NATIVE-NOTES.md) are libtorch's intra-op threads
 * (1 by default on 2 vCPUs), OpenBLAS's own pool (every CPU by default) and libgomp's wait
 * policy (spin-waiting by default, 2-3.5x slower end to end with 2 intra-op threads on
 * 2 vCPUs; PASSIVE must be in the environment before libgomp loads, so it is set per process).
 */
import type { Workload, WorkerResult } from './workloads.js';

export interface ThreadSetting {
  name: string;
  /** The thread variables of the worker's environment (the rest is the user's environment). */
  env: Record<string, string>;
  /** What the worker should report for it; undefined for the package's own defaults. */
  expects?: WorkerResult['threads'];
}

/**
 * intra-op and OpenBLAS counts both explicit: OpenBLAS falls back to OMP_NUM_THREADS when
 * OPENBLAS_NUM_THREADS is unset, so OMP_NUM_THREADS=1 alone would also halve the BLAS pool.
 */
function explicit(intraOp: number, blas: number, waitPolicy: 'PASSIVE' | 'libgomp default'): ThreadSetting {
  const env: Record<string, string> = { OMP_NUM_THREADS: String(intraOp), OPENBLAS_NUM_THREADS: String(blas) };
  if (waitPolicy === 'PASSIVE') env.OMP_WAIT_POLICY = 'PASSIVE';
  const policy = waitPolicy === 'PASSIVE' ? 'OMP_WAIT_POLICY=PASSIVE' : 'libgomp default wait policy (ACTIVE)';
  return { name: `intra-op ${intraOp}, OpenBLAS ${blas}, ${policy}`, env, expects: { intraOp, blas: String(blas), waitPolicy } };
}

/** 1 and every core, without duplicates on a 1-core machine. */
const intraOpCounts = (cores: number) => [...new Set([1, cores])];

/**
 * Ours: what the package does by itself (or the user's thread variables, when set), then each
 * intra-op count with the full OpenBLAS pool. The package sets OMP_WAIT_POLICY=PASSIVE itself
 * unless the user set it, so the spinning policy is not a setting of ours a user would meet.
 */
export function oursSettings(cores: number, userThreads: Record<string, string>): ThreadSetting[] {
  const own: ThreadSetting =
    Object.keys(userThreads).length > 0
      ? { name: `your settings (${Object.entries(userThreads).map(([k, v]) => `${k}=${v}`).join(', ')})`, env: userThreads }
      : { name: 'package defaults', env: {} };
  return [own, ...intraOpCounts(cores).map((n) => explicit(n, cores, 'PASSIVE'))];
}

/**
 * PyTorch: each intra-op count (torch.set_num_threads, from OMP_NUM_THREADS in torch_worker.py)
 * with PASSIVE waiting, and every core with libgomp's default policy, what a user who only calls
 * torch.set_num_threads gets. That last one is slow here (NATIVE-NOTES.md) and training takes
 * minutes per run, so training tries it only when `thorough` (--matrix).
 */
export function torchSettings(cores: number, workload: Workload, thorough: boolean): ThreadSetting[] {
  const settings = intraOpCounts(cores).map((n) => explicit(n, cores, 'PASSIVE'));
  if (cores > 1 && (workload !== 'train' || thorough)) settings.push(explicit(cores, cores, 'libgomp default'));
  return settings;
}

/**
 * ONNX Runtime: intraOpNumThreads 1 and every core. Its intra-op pool spin-waits by default
 * (session.intra_op.allow_spinning), the same hazard on 2 shared vCPUs as libgomp's policy, so
 * every core is also tried without spinning. It has no OpenMP and its own GEMM (MLAS): the OMP
 * and OpenBLAS variables do not apply.
 */
export function ortSettings(cores: number): ThreadSetting[] {
  const setting = (intraOp: number, spinning: boolean): ThreadSetting => ({
    name: `intraOpNumThreads ${intraOp}${intraOp > 1 ? (spinning ? ', spinning (default)' : ', allow_spinning 0') : ''}`,
    env: { BENCH_ORT_INTRA_OP: String(intraOp), BENCH_ORT_SPINNING: spinning ? '1' : '0' },
    expects: { intraOp, blas: 'MLAS', waitPolicy: spinning ? 'ORT spinning' : 'ORT no spinning' },
  });
  const settings = intraOpCounts(cores).map((n) => setting(n, true));
  if (cores > 1) settings.push(setting(cores, false));
  return settings;
}

/** Why a setting is not run: the worker already reported exactly these threads for an earlier one. */
export function sameAs(setting: ThreadSetting, earlier: ReadonlyArray<{ setting: ThreadSetting; result?: WorkerResult }>): string | undefined {
  const { expects } = setting;
  if (!expects) return undefined;
  const twin = earlier.find(({ result }) => {
    const t = result?.threads;
    return t !== undefined && t.intraOp === expects.intraOp && t.blas === expects.blas && t.waitPolicy === expects.waitPolicy;
  });
  return twin && `the same threads as ${twin.setting.name}`;
}

/** --matrix: every intra-op × OpenBLAS count with PASSIVE waiting, the same on both sides. */
export function matrixSettings(cores: number): ThreadSetting[] {
  return intraOpCounts(cores).flatMap((intraOp) => intraOpCounts(cores).map((blas) => explicit(intraOp, blas, 'PASSIVE')));
}

