/** Printing float32 values (scores) as JSON numbers. */

/**
 * The shortest decimal that reads back as the same float32: scores are float32, and printing
 * their float64 expansion (0.10000000149011612) would only add noise digits.
 */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}
