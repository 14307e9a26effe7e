/**
 * Which waiting pairs go into the next forward pass. A forward costs its padded tokens (pairs ×
 * the longest pair), so it should hold pairs of similar length; and no pair should wait forever
 * behind others that pack better. Both hold when every forward holds the oldest waiting pair and
 * is filled, within the token budget, with the pairs nearest to it in length.
 */

/**
 * Picks the pairs of the next forward among `lengths` (the token lengths of the waiting pairs,
 * oldest first, so `lengths[0]` is the oldest): index 0 always, then, in the order of length
 * (longest first), the run of neighbours around it that keeps `pairs × longest ≤ budget` and at
 * most `maxPairs` pairs, extended toward shorter pairs first (they add no padding). A pair longer
 * than the budget goes alone. Returns indices into `lengths`, longest first.
 */
export function packForward(lengths: readonly number[], budget: number, maxPairs: number): number[] {
  if (lengths.length === 0) return [];
  // Longest first; on equal lengths the older pair first, so ties keep the arrival order.
  const sorted = lengths.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const head = sorted.indexOf(0);
  let first = head;
  let last = head;
  const fits = (from: number, to: number) => to - from + 1 <= maxPairs && (to - from + 1) * lengths[sorted[from]] <= budget;
  for (;;) {
    if (last + 1 < sorted.length && fits(first, last + 1)) last++;
    else if (first > 0 && fits(first - 1, last)) first--;
    else break;
  }
  return sorted.slice(first, last + 1);
}
