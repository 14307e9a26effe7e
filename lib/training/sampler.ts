/**
 * The order a training epoch visits rows in, drawn as Sentence Transformers' CrossEncoderTrainer
 * draws it, so a run here trains on the same batches as the Python one.
 */
import { randperm, randperms } from '../native.js';

import type { MultiDatasetBatchSampler } from './training-arguments.js';

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

/**
 * Batches of `epoch` over several datasets, each batch from one dataset, as Sentence Transformers'
 * ProportionalBatchSampler (every batch of every dataset, in a random order of datasets weighted
 * by their batch counts) or RoundRobinBatchSampler (one batch of each dataset in turn, as many
 * rounds as the smallest has batches) draws them. Row indices are global: dataset d's rows follow
 * those of datasets 0..d-1 (torch's ConcatDataset).
 *
 * Every draw comes from one generator, seeded `seed + epoch`, in the order torch's lazy samplers
 * make them: the proportional order of datasets first (SubsetRandomSampler's randperm), then
 * each dataset's RandomSampler permutation at its first batch, and one more permutation when a
 * dataset's short last batch exhausts its sampler (RandomSampler's empty tail draw).
 */
export async function multiDatasetEpochBatches(
  sizes: readonly number[],
  batchSize: number,
  seed: number,
  epoch: number,
  dropLast: boolean,
  sampler: MultiDatasetBatchSampler,
): Promise<number[][]> {
  const counts = sizes.map((n) => batchesPerEpoch(n, batchSize, dropLast));
  const generatorSeed = seed + epoch;
  let visits: number[];
  let leading: number[] = [];
  if (sampler === 'proportional') {
    const datasetOfSlot = counts.flatMap((count, d) => Array<number>(count).fill(d));
    const [order] = await randperms([datasetOfSlot.length], generatorSeed);
    visits = Array.from(order, (slot) => datasetOfSlot[slot]);
    leading = [datasetOfSlot.length];
  } else {
    const rounds = Math.min(...counts);
    visits = Array.from({ length: rounds * sizes.length }, (_, i) => i % sizes.length);
  }
  // The permutations the visits draw, in order; permutationOf[d] is dataset d's (its first draw).
  const draws: number[] = [...leading];
  const permutationOf = new Array<number>(sizes.length).fill(-1);
  const taken = new Array<number>(sizes.length).fill(0);
  for (const d of visits) {
    if (permutationOf[d] < 0) {
      permutationOf[d] = draws.length;
      draws.push(sizes[d]);
    }
    taken[d] += 1;
    if (taken[d] === counts[d] && !dropLast && sizes[d] % batchSize !== 0) draws.push(sizes[d]);
  }
  const permutations = await randperms(draws, generatorSeed);
  const offsets = sizes.map((_, d) => sizes.slice(0, d).reduce((a, b) => a + b, 0));
  taken.fill(0);
  return visits.map((d) => {
    const perm = permutations[permutationOf[d]];
    const start = taken[d]++ * batchSize;
    return Array.from(perm.subarray(start, Math.min(start + batchSize, sizes[d])), (i) => i + offsets[d]);
  });
}

/** Number of batches per epoch of {@link multiDatasetEpochBatches}. */
export function multiDatasetBatchesPerEpoch(sizes: readonly number[], batchSize: number, dropLast: boolean, sampler: MultiDatasetBatchSampler): number {
  const counts = sizes.map((n) => batchesPerEpoch(n, batchSize, dropLast));
  return sampler === 'proportional' ? counts.reduce((a, b) => a + b, 0) : Math.min(...counts) * sizes.length;
}
