/**
 * The order a training epoch visits rows in, drawn as Sentence Transformers' CrossEncoderTrainer
 * draws it, so a run here trains on the same batches as the Python one.
 */
import { randperm } from '../native.js';

/**
 * Row indices of each batch of `epoch` (0-based): consecutive chunks of
 * `torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))` (accelerate's
 * seedable sampler re-seeds the generator each epoch), without the last short chunk when
 * `dropLast`.
 */
export async function epochBatches(n: number, batchSize: number, seed: number, epoch: number, dropLast: boolean): Promise<number[][]> {
  const order = await randperm(n, seed + epoch);
  const batches: number[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    if (dropLast && start + batchSize > n) break;
    batches.push(Array.from(order.subarray(start, Math.min(start + batchSize, n))));
  }
  return batches;
}

/** Number of batches per epoch. */
export function batchesPerEpoch(n: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}
