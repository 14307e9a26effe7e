/**
 * `groupByLength`: transformers' LengthGroupedSampler (`get_length_grouped_indices` in
 * trainer_pt_utils.py), so that a batch holds rows of similar length and pads little. One
 * permutation of the rows, cut into megabatches of `mega_batch_mult × batch_size` rows
 * (mega_batch_mult = min(n // (4 · batch_size), 50), at least 1), each sorted longest first
 * (stable, as Python's sorted), and the longest row of all swapped into the very first position;
 * the DataLoader then cuts consecutive batches. transformers gives the sampler
 * `train_batch_size × gradient_accumulation_steps` as its batch size (the megabatch arithmetic)
 * and the generator it shuffles with is, here, `torch.Generator().manual_seed(seed + epoch)`, the
 * seeding of the default sampler (sampler.ts), where transformers passes none:
 * test/reference/length_grouped.py, transformers' function with that generator, draws the same
 * batches. Sentence Transformers' trainer ignores `group_by_length` (it always builds its own
 * batch sampler): this is transformers' feature, beyond Sentence Transformers' parity. The
 * evaluation order is not grouped.
 */
import { randperm } from '../native.js';

/** Row indices of each batch of `epoch`, grouped by length. */
export async function lengthGroupedBatches(
  lengths: readonly number[],
  batchSize: number,
  megabatchBatchSize: number,
  seed: number,
  epoch: number,
  dropLast: boolean,
): Promise<number[][]> {
  const n = lengths.length;
  const order = Array.from(await randperm(n, seed + epoch));
  const multiple = Math.max(1, Math.min(Math.floor(n / (megabatchBatchSize * 4)), 50));
  const megabatchSize = multiple * megabatchBatchSize;
  const megabatches: number[][] = [];
  for (let start = 0; start < n; start += megabatchSize) {
    megabatches.push(order.slice(start, start + megabatchSize).sort((a, b) => lengths[b] - lengths[a]));
  }
  if (megabatches.length > 0) {
    // torch.argmax: the first of equal maxima.
    let longest = 0;
    megabatches.forEach((m, i) => {
      if (lengths[m[0]] > lengths[megabatches[longest][0]]) longest = i;
    });
    [megabatches[0][0], megabatches[longest][0]] = [megabatches[longest][0], megabatches[0][0]];
  }
  const indices = megabatches.flat();
  const batches: number[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    if (dropLast && start + batchSize > n) break;
    batches.push(indices.slice(start, start + batchSize));
  }
  return batches;
}
