/**
 * The environment as the user started the benchmark, captured before anything loads the addon:
 * lib/native.ts fills in thread variables (OMP_WAIT_POLICY, …) when it is imported, and the
 * workers must start from the user's environment, not from ours. bench/run.ts imports this
 * module first (paths.ts, which it imports, loads nothing).
 */
import { ORT_DIR } from './paths.js';

export const USER_ENV: Readonly<NodeJS.ProcessEnv> = { ...process.env };

/** Variables that decide libgomp's and OpenBLAS's threads. */
export const THREAD_VARIABLES = ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'GOTO_NUM_THREADS', 'OMP_WAIT_POLICY'] as const;

/** The user's thread variables that are set. */
export function userThreadSettings(): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of THREAD_VARIABLES) {
    const value = USER_ENV[name];
    if (value !== undefined) settings[name] = value;
  }
  return settings;
}

/** What every worker runs the model as (--int8: BENCH_DTYPE=int8, read by each worker). */
let benchDtype: 'float32' | 'int8' = 'float32';
export function useDtype(dtype: 'float32' | 'int8'): void {
  benchDtype = dtype;
}

/** The user's environment without thread variables, plus `threads`. */
export function workerEnv(threads: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...USER_ENV };
  for (const name of THREAD_VARIABLES) delete env[name];
  // The bundled workers run from bench/.cache and cannot derive the repository's paths themselves.
  return { ...env, ...threads, BENCH_DTYPE: benchDtype, BENCH_ORT_DIR: ORT_DIR };
}
