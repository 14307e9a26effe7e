/**
 * How the PyTorch side cuts predict's and rank's calls into forwards.
 *
 * Our predict runs each batch of 32 in forwards of at most ~1024 padded tokens
 * (lib/model/cross-encoder.ts); the reference, like Sentence Transformers, runs whole batches. Timing
 * the two against each other would mix the implementations' speed with that choice, and a FLOP
 * count taken from one side's shapes would be wrong for the other (rank showed > 100% of the
 * sgemm peak that way). So the comparison gives the reference the very forwards our worker
 * recorded: the same pairs, in the same order, in forwards of the same shapes; each side still
 * reports the shapes it ran, and `differentForwards` checks they agree. The cut is read from the
 * recording rather than recomputed here, so it follows the library when the library changes.
 * Whole batches (`wholeBatchPlan`) are run too, as the figure a Sentence Transformers user gets.
 */
import type { ForwardPlan, Shape, TorchScoringSpec, WorkerResult } from './workloads.js';

/** The forwards our worker ran, as pairs per forward, call by call. */
export function recordedPlan(result: WorkerResult): ForwardPlan {
  const sizes = (calls: Shape[][]) => calls.map((call) => call.map(([batchSize]) => batchSize));
  return { warmup: sizes(result.forwards.warmup), calls: sizes(result.forwards.measured) };
}

/** Every call in consecutive batches of `batchSize` pairs, each one forward. */
export function wholeBatchPlan(spec: TorchScoringSpec, batchSize: number): ForwardPlan {
  const cut = (pairs: number) => Array.from({ length: Math.ceil(pairs / batchSize) }, (_, i) => Math.min(batchSize, pairs - i * batchSize));
  return { warmup: spec.warmup.map((call) => cut(call.length)), calls: spec.calls.map((call) => cut(call.length)) };
}

/** Where two runs' measured forwards differ, or undefined when they ran the same shapes. */
export function differentForwards(a: WorkerResult, b: WorkerResult): string | undefined {
  const x = a.forwards.measured;
  const y = b.forwards.measured;
  if (x.length !== y.length) return `${x.length} calls against ${y.length}`;
  for (let call = 0; call < x.length; call++) {
    if (x[call].length !== y[call].length) return `call ${call}: ${x[call].length} forwards against ${y[call].length}`;
    for (let i = 0; i < x[call].length; i++) {
      const [p, q] = [x[call][i], y[call][i]];
      if (p[0] !== q[0] || p[1] !== q[1]) return `call ${call}, forward ${i}: [${p}] against [${q}]`;
    }
  }
  return undefined;
}
